package pgregistry

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// The KEK check value: a fixed label sealed under the key-encryption key
// (AES-256-GCM, as every secret, with its own purpose in the associated
// data), stored in registry_meta under kekCheckKey. Opening it proves a KEK
// is the database's without touching a device's secret, and says nothing
// of the key: the check value is sealed with a random nonce, and a wrong
// KEK learns only that the tag does not verify.
//
// It is written by the admin, never by replicas (whose database role may
// be read-only): at migrate, by any admin command on a database that lacks
// it, and by rekey, under the new KEK in the same transaction as the
// secrets. A database provisioned before schema version 3 has none until
// then; meanwhile a KEK is checked on the database's first devices' PSKs
// (derived from a successful decrypt: checkKEK).
const (
	kekCheckKey     = "kek_check"
	purposeKEKCheck = "kek-check"
	kekCheckLabel   = "tlsoffload registry key-encryption key check, version 1"
	// kekProbeRows bounds the PSKs tried when there is no check value: a
	// KEK that opens none of them is refused.
	kekProbeRows = 16
)

// ErrKEKMismatch is a KEK that does not open the database's check value
// (or, before it has one, none of its devices' PSKs): kek_file is not the
// key this database was provisioned with. It never carries key bytes.
var ErrKEKMismatch = errors.New("pgregistry: the KEK does not match the database")

// sealKEKCheck seals the check value under k.
func (k *KEK) sealKEKCheck() ([]byte, error) {
	return k.seal(purposeKEKCheck, "", []byte(kekCheckLabel))
}

// opensKEKCheck reports whether sealed is the check value under k.
func (k *KEK) opensKEKCheck(sealed []byte) bool {
	pt, err := k.open(purposeKEKCheck, "", sealed)
	return err == nil && subtle.ConstantTimeCompare(pt, []byte(kekCheckLabel)) == 1
}

type rowQuerier interface {
	QueryRow(context.Context, string, ...any) pgx.Row
	Query(context.Context, string, ...any) (pgx.Rows, error)
}

// readKEKCheck returns the stored check value, nil when there is none.
func readKEKCheck(ctx context.Context, q rowQuerier) ([]byte, error) {
	var v []byte
	err := q.QueryRow(ctx, "SELECT value FROM registry_meta WHERE key = $1", kekCheckKey).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pgregistry: reading the KEK check value: %w", err)
	}
	return v, nil
}

// kekVerdict is what checkKEK found.
type kekVerdict int

const (
	kekChecked    kekVerdict = iota // the check value opened
	kekProbed                       // no check value; a device's PSK opened
	kekUnprovable                   // no check value and no device: nothing to check against
)

// checkKEK checks the KEKs given (the first that matches wins: a replica's
// KEK, then its previous one during a rotation) against the database. It
// returns which matched, or ErrKEKMismatch, or the database's error.
func checkKEK(ctx context.Context, q rowQuerier, keks ...*KEK) (*KEK, kekVerdict, error) {
	check, err := readKEKCheck(ctx, q)
	if err != nil {
		return nil, 0, err
	}
	if check != nil {
		for _, k := range keks {
			if k != nil && k.opensKEKCheck(check) {
				return k, kekChecked, nil
			}
		}
		return nil, 0, fmt.Errorf("%w: it does not open the check value stored at migrate or at the last rekey (is kek_file the key this database was provisioned with?)", ErrKEKMismatch)
	}
	rows, err := q.Query(ctx, "SELECT id, psk_sealed FROM devices ORDER BY id LIMIT $1", kekProbeRows)
	if err != nil {
		return nil, 0, fmt.Errorf("pgregistry: checking the KEK: %w", err)
	}
	type probe struct {
		id     string
		sealed []byte
	}
	var probes []probe
	for rows.Next() {
		var p probe
		if err := rows.Scan(&p.id, &p.sealed); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("pgregistry: checking the KEK: %w", err)
		}
		probes = append(probes, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("pgregistry: checking the KEK: %w", err)
	}
	if len(probes) == 0 {
		return nil, kekUnprovable, nil
	}
	for _, k := range keks {
		if k == nil {
			continue
		}
		for _, p := range probes {
			if pt, err := k.open(purposePSK, p.id, p.sealed); err == nil {
				clear(pt)
				return k, kekProbed, nil
			}
		}
	}
	return nil, 0, fmt.Errorf("%w: it opens none of the first %d devices' PSKs (the database has no check value yet: 'offloader migrate' with the right kek_file writes one)", ErrKEKMismatch, len(probes))
}

// writeKEKCheck stores the check value under k, replacing any.
func writeKEKCheck(ctx context.Context, q querier, k *KEK) error {
	v, err := k.sealKEKCheck()
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, `INSERT INTO registry_meta (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = $2, updated_at = now()`, kekCheckKey, v)
	if err != nil {
		return fmt.Errorf("pgregistry: storing the KEK check value: %w", err)
	}
	return nil
}

// CheckKEK checks the Admin's KEK against the database before it seals
// anything with it, and stores the check value when the database has none
// yet: derived from a PSK the KEK opens, or, in a database with no device
// (a new one), for the KEK given. ErrKEKMismatch when the KEK is not the
// database's. Every admin command but rekey runs it first (rekey checks
// both keys itself).
func (a *Admin) CheckKEK(ctx context.Context) error {
	if err := checkSchema(ctx, a.pool); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		// One admin at a time writes the first check value.
		if _, err := tx.Exec(ctx, "LOCK TABLE registry_meta IN SHARE ROW EXCLUSIVE MODE"); err != nil {
			return fmt.Errorf("pgregistry: checking the KEK: %w", err)
		}
		_, verdict, err := checkKEK(ctx, tx, a.kek)
		if err != nil || verdict == kekChecked {
			return err
		}
		return writeKEKCheck(ctx, tx, a.kek)
	})
}
