package pgregistry

import (
	"context"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// NewPSKLen is the size of the PSKs the registry makes.
const NewPSKLen = 32

// maxCSVRows bounds one bulk add (a factory batch); larger files are split.
const maxCSVRows = 1_000_000

// CSVError names the line of a bulk add at fault; it never quotes a PSK.
type CSVError struct {
	Line int
	Err  error
}

func (e *CSVError) Error() string { return fmt.Sprintf("pgregistry: csv line %d: %v", e.Line, e.Err) }
func (e *CSVError) Unwrap() error { return e.Err }

// csvRow is one device of a bulk add, checked.
type csvRow struct {
	id, policy string
	psk        []byte
	generated  bool // psk made here: to be shown once
}

// parseCSV reads and checks a bulk add's file (no database): the header
// "id,policy" or "id,policy,psk", then one device a line, ids unique, at
// most maxCSVRows. PSKs missing from the file are made here.
func parseCSV(in io.Reader) ([]csvRow, error) {
	cr := csv.NewReader(in)
	head, err := cr.Read()
	if err != nil {
		return nil, &CSVError{Line: 1, Err: fmt.Errorf("reading the header: %w", err)}
	}
	header := strings.Join(head, ",")
	withPSK := false
	switch header {
	case "id,policy":
	case "id,policy,psk":
		withPSK = true
	default:
		return nil, &CSVError{Line: 1, Err: fmt.Errorf("header %q: want \"id,policy\" or \"id,policy,psk\"", header)}
	}
	var rows []csvRow
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil { // a *csv.ParseError names its own line
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.StartLine
			}
			return nil, &CSVError{Line: line, Err: err}
		}
		line, _ := cr.FieldPos(0)
		if len(rows) >= maxCSVRows {
			return nil, &CSVError{Line: line, Err: fmt.Errorf("more than %d devices: split the file", maxCSVRows)}
		}
		row := csvRow{id: rec[0], policy: rec[1]}
		if j, dup := seen[row.id]; dup {
			return nil, &CSVError{Line: line, Err: fmt.Errorf("device %q also on line %d", row.id, j)}
		}
		seen[row.id] = line
		if row.policy == "" {
			return nil, &CSVError{Line: line, Err: errors.New("policy: missing")}
		}
		if withPSK && rec[2] != "" {
			row.psk, err = hex.DecodeString(strings.TrimSpace(rec[2]))
			if err != nil || len(row.psk) < wire.MinPSKLen || len(row.psk) > wire.MaxPSKLen {
				return nil, &CSVError{Line: line, Err: fmt.Errorf("psk: must be %d..%d bytes of hex", wire.MinPSKLen, wire.MaxPSKLen)}
			}
		} else {
			row.psk = make([]byte, NewPSKLen)
			if _, err := rand.Read(row.psk); err != nil {
				return nil, err
			}
			row.generated = true
		}
		s := DeviceSpec{ID: row.id, Policy: row.policy, PSK: row.psk}
		if err := s.check(); err != nil {
			return nil, &CSVError{Line: line, Err: err}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// AddCSV adds the devices of a CSV file in one transaction (all or none),
// for a factory line. The header names the columns: "id,policy" or
// "id,policy,psk" (hex). Rows without a PSK get a fresh one, written once to
// out as "id,psk" lines, after the batch is stored: the only place it is
// ever shown. It returns the number of devices added.
func (a *Admin) AddCSV(ctx context.Context, in io.Reader, out io.Writer) (int, error) {
	rows, err := parseCSV(in)
	if err != nil {
		return 0, err
	}
	defer func() {
		for _, r := range rows {
			clear(r.psk)
		}
	}()
	copyRows := make([][]any, len(rows))
	for i, r := range rows {
		sealed, err := a.kek.seal(purposePSK, r.id, r.psk)
		if err != nil {
			return 0, err
		}
		copyRows[i] = []any{r.id, r.policy, sealed}
	}
	err = pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"devices"}, []string{"id", "policy", "psk_sealed"}, pgx.CopyFromRows(copyRows))
		return err
	})
	if err != nil {
		return 0, deviceErr("(csv)", "", err)
	}
	for _, r := range rows {
		if !r.generated {
			continue
		}
		if _, err := fmt.Fprintf(out, "%s,%s\n", r.id, hex.EncodeToString(r.psk)); err != nil {
			return len(rows), fmt.Errorf("pgregistry: devices added, but writing their PSKs failed (rotate them): %w", err)
		}
	}
	return len(rows), nil
}
