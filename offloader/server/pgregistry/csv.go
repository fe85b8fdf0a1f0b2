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

// AddCSV adds the devices of a CSV file in one transaction (all or none),
// for a factory line. The header names the columns: "id,policy" or
// "id,policy,psk" (hex). Rows without a PSK get a fresh one, written once to
// out as "id,psk" lines: the only place it is ever shown. It returns the
// number of devices added.
func (a *Admin) AddCSV(ctx context.Context, in io.Reader, out io.Writer) (int, error) {
	cr := csv.NewReader(in)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return 0, &CSVError{Line: 1, Err: fmt.Errorf("reading the header: %w", err)}
	}
	header := strings.Join(head, ",")
	withPSK := false
	switch header {
	case "id,policy":
	case "id,policy,psk":
		withPSK = true
	default:
		return 0, &CSVError{Line: 1, Err: fmt.Errorf("header %q: want \"id,policy\" or \"id,policy,psk\"", header)}
	}
	var rows [][]any
	var shown []string
	seen := map[string]int{}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, &CSVError{Line: line, Err: err}
		}
		if len(rows) >= maxCSVRows {
			return 0, &CSVError{Line: line, Err: fmt.Errorf("more than %d devices: split the file", maxCSVRows)}
		}
		s := DeviceSpec{ID: rec[0], Policy: rec[1]}
		if j, dup := seen[s.ID]; dup {
			return 0, &CSVError{Line: line, Err: fmt.Errorf("device %q also on line %d", s.ID, j)}
		}
		seen[s.ID] = line
		if withPSK && rec[2] != "" {
			s.PSK, err = hex.DecodeString(strings.TrimSpace(rec[2]))
			if err != nil || len(s.PSK) < wire.MinPSKLen || len(s.PSK) > wire.MaxPSKLen {
				return 0, &CSVError{Line: line, Err: fmt.Errorf("psk: must be %d..%d bytes of hex", wire.MinPSKLen, wire.MaxPSKLen)}
			}
		} else {
			s.PSK = make([]byte, NewPSKLen)
			if _, err := rand.Read(s.PSK); err != nil {
				return 0, err
			}
			shown = append(shown, s.ID+","+hex.EncodeToString(s.PSK))
		}
		if err := s.check(); err != nil {
			return 0, &CSVError{Line: line, Err: err}
		}
		sealed, err := a.kek.seal(purposePSK, s.ID, s.PSK)
		clear(s.PSK)
		if err != nil {
			return 0, err
		}
		rows = append(rows, []any{s.ID, s.Policy, sealed})
	}
	err = pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"devices"}, []string{"id", "policy", "psk_sealed"}, pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		return 0, deviceErr("(csv)", "", err)
	}
	for _, l := range shown {
		if _, err := fmt.Fprintln(out, l); err != nil {
			return len(rows), fmt.Errorf("pgregistry: devices added, but writing their PSKs failed: %w", err)
		}
	}
	return len(rows), nil
}
