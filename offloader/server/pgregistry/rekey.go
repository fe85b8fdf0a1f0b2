package pgregistry

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// RekeyResult counts what Rekey did.
type RekeyResult struct {
	Devices int // devices whose secrets were re-sealed under the new KEK
	Already int // devices whose secrets opened under the new KEK already
	Secrets int // secrets re-sealed: PSKs and client keys
}

// rekeyBatch is the rows written by one UPDATE.
const rekeyBatch = 1000

// Rekey re-seals every device's secrets (its PSK and client key) under the
// Admin's KEK, opening them with old, in one transaction: all are
// re-sealed or none, and the KEK check value (kekcheck.go) with them: a
// database whose check value neither key opens is refused with
// ErrKEKMismatch before anything is read. A device whose secrets open under the new KEK already
// (a rekey run again) is left as it is; one whose secrets open under
// neither key fails the whole rekey, naming the device.
//
// The secrets themselves do not change, so neither do the rows' versions
// and no replica is notified: no cached entry is dropped and no channel
// closed. The devices table's bump and notify triggers are disabled inside
// the transaction (ALTER TABLE is transactional: no other session sees them
// disabled), which also makes writers of devices (an add, a revoke) wait
// for the commit, so that no row is sealed under the old KEK meanwhile;
// replicas' reads go on. Replicas holding only the old KEK cannot open
// rows read after the commit: give them the new KEK with the old one as
// Config.PreviousKEK first (docs/OFFLOADER.md, "Rotating the KEK").
func (a *Admin) Rekey(ctx context.Context, old *KEK) (RekeyResult, error) {
	if old == nil {
		return RekeyResult{}, errors.New("pgregistry: rekey: the old key-encryption key is required")
	}
	var res RekeyResult
	err := pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		res = RekeyResult{}
		if _, err := tx.Exec(ctx, "ALTER TABLE devices DISABLE TRIGGER devices_bump, DISABLE TRIGGER devices_notify"); err != nil {
			return fmt.Errorf("pgregistry: rekey: %w", err)
		}
		// The check value says whether either key is the database's before
		// a row is read: a wrong old key is refused as such, not as the
		// first device it cannot open. (A rekey run again finds it under
		// the new key already.)
		if check, err := readKEKCheck(ctx, tx); err != nil {
			return err
		} else if check != nil && !old.opensKEKCheck(check) && !a.kek.opensKEKCheck(check) {
			return fmt.Errorf("%w: neither the old nor the new key-encryption key opens its check value: nothing re-sealed", ErrKEKMismatch)
		}
		type row struct {
			id       string
			psk, key []byte
		}
		var todo []row
		rows, err := tx.Query(ctx, "SELECT id, psk_sealed, client_key_sealed FROM devices ORDER BY id")
		if err != nil {
			return fmt.Errorf("pgregistry: rekey: %w", err)
		}
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.psk, &r.key); err != nil {
				rows.Close()
				return fmt.Errorf("pgregistry: rekey: %w", err)
			}
			todo = append(todo, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("pgregistry: rekey: %w", err)
		}
		var ids []string
		var psks, keys [][]byte
		flush := func() error {
			if len(ids) == 0 {
				return nil
			}
			_, err := tx.Exec(ctx, `UPDATE devices d SET psk_sealed = u.psk, client_key_sealed = u.key
				FROM unnest($1::text[], $2::bytea[], $3::bytea[]) AS u(id, psk, key) WHERE d.id = u.id`, ids, psks, keys)
			ids, psks, keys = ids[:0], psks[:0], keys[:0]
			if err != nil {
				return fmt.Errorf("pgregistry: rekey: %w", err)
			}
			return nil
		}
		for _, r := range todo {
			psk, pskNew, err := a.reseal(old, purposePSK, r.id, r.psk)
			if err != nil {
				return err
			}
			key, keyNew, err := r.key, false, error(nil)
			if r.key != nil {
				if key, keyNew, err = a.reseal(old, purposeClientKey, r.id, r.key); err != nil {
					return err
				}
			}
			if !pskNew && (r.key == nil || !keyNew) {
				res.Already++
				continue
			}
			res.Devices++
			for _, n := range []bool{pskNew, keyNew} {
				if n {
					res.Secrets++
				}
			}
			ids, psks, keys = append(ids, r.id), append(psks, psk), append(keys, key)
			if len(ids) == rekeyBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "ALTER TABLE devices ENABLE TRIGGER devices_bump, ENABLE TRIGGER devices_notify"); err != nil {
			return fmt.Errorf("pgregistry: rekey: %w", err)
		}
		// Every secret now opens under the new KEK: so does the check value.
		return writeKEKCheck(ctx, tx, a.kek)
	})
	if err != nil {
		return RekeyResult{}, err
	}
	return res, nil
}

// reseal opens sealed with old and seals it under a's KEK (changed true);
// a value that opens under a's KEK already is returned as it is.
func (a *Admin) reseal(old *KEK, purpose, id string, sealed []byte) (out []byte, changed bool, err error) {
	pt, err := old.open(purpose, id, sealed)
	if err != nil {
		if pt, err := a.kek.open(purpose, id, sealed); err == nil {
			clear(pt)
			return sealed, false, nil
		}
		return nil, false, fmt.Errorf("pgregistry: rekey: device %q: its %s opens under neither the old nor the new key-encryption key", id, purpose)
	}
	defer clear(pt)
	if out, err = a.kek.seal(purpose, id, pt); err != nil {
		return nil, false, err
	}
	return out, true, nil
}
