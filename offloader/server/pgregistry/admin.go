package pgregistry

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/server"
)

// Admin provisions the fleet: policies, trust-root bundles and devices.
// It seals every secret with the KEK before it reaches the database.
type Admin struct {
	pool *pgxpool.Pool
	kek  *KEK
}

// NewAdmin returns an Admin on pool (whose schema Migrate made current).
func NewAdmin(pool *pgxpool.Pool, kek *KEK) *Admin { return &Admin{pool: pool, kek: kek} }

// Errors callers branch on.
var (
	ErrNotFound = errors.New("pgregistry: no such device")
	ErrExists   = errors.New("pgregistry: device already exists")
	ErrNoPolicy = errors.New("pgregistry: no such policy")
)

// Policy is what devices share: the server names they may reach, their
// negotiation policy (lowest and highest protocol version, cipher suites,
// key exchanges), their trust roots (PEM, stored once per distinct bundle;
// nil for the system roots), leaf pins, verification profile, path pins,
// CRLs and resource limits (server.Device's fields of the same names).
type Policy struct {
	Name         string
	AllowedNames []string
	MinVersion   uint16
	// MaxVersion, CipherSuites and KeyExchanges: zero or empty for the
	// default (stored as NULL), as in a YAML device. Whether KeyExchanges
	// may be left to its default with RSA suites listed depends on the
	// device (the client-certificate rule): Admin checks each device
	// against its policy when either changes.
	MaxVersion   uint16
	CipherSuites []uint16
	KeyExchanges []handshake.KeyExchange
	RootsPEM     []byte
	LeafPins     [][sha256.Size]byte
	Profile      certs.Profile
	Pins         []certs.Pin
	// CRLs are a crls_file's content (PEM or DER, as certs.ParseCRLs takes
	// it); nil for none. They are stored once per distinct set, as DER.
	CRLs   []byte
	Limits server.DeviceLimits
}

// PolicyError is why a policy is refused: the field at fault, named as
// its column (and a YAML device's field): "max_version",
// "cipher_suites[1]", "key_exchanges[0]", "allowed_names[2]", "limits"...
// Device, when set, is the device with a client certificate the policy
// was checked for (the RSA key exchange rule depends on it).
type PolicyError struct {
	Policy string
	Device string
	Field  string
	Err    error
}

func (e *PolicyError) Error() string {
	if e.Device != "" {
		return fmt.Sprintf("pgregistry: policy %q for device %q, which has a client certificate: %s: %v", e.Policy, e.Device, e.Field, e.Err)
	}
	return fmt.Sprintf("pgregistry: policy %q: %s: %v", e.Policy, e.Field, e.Err)
}

func (e *PolicyError) Unwrap() error { return e.Err }

// policyField names a server.DeviceError's field as the policy's column.
func policyField(de *server.DeviceError) string {
	switch de.Field {
	case "MinVersion":
		return "min_version"
	case "MaxVersion":
		return "max_version"
	case "CipherSuites":
		return fmt.Sprintf("cipher_suites[%d]", de.Index)
	case "KeyExchanges":
		return fmt.Sprintf("key_exchanges[%d]", de.Index)
	case "AllowedNames":
		return fmt.Sprintf("allowed_names[%d]", de.Index)
	}
	return strings.ToLower(de.Field) // Limits, Profile, Pins
}

// policyErr words err (a server.DeviceError from a stand-in device) as p's.
func (p *Policy) policyErr(device string, err error) error {
	var de *server.DeviceError
	if errors.As(err, &de) {
		return &PolicyError{Policy: p.Name, Device: device, Field: policyField(de), Err: de.Err}
	}
	return err
}

// check validates p through server.Device.Check, the one place entries are
// validated, with a stand-in id and PSK and no client certificate.
func (p *Policy) check() error {
	if p.Name == "" || len(p.Name) > 128 || strings.ContainsAny(p.Name, " \t\r\n") {
		return fmt.Errorf("pgregistry: policy name %q: 1 to 128 characters without spaces", p.Name)
	}
	d := server.Device{ID: "policy", PSK: make([]byte, 32), AllowedNames: p.AllowedNames, MinVersion: p.MinVersion,
		MaxVersion: p.MaxVersion, CipherSuites: p.CipherSuites, KeyExchanges: p.KeyExchanges,
		Profile: p.Profile, Pins: p.Pins, Limits: p.Limits}
	if err := d.Check(); err != nil {
		return p.policyErr("", err)
	}
	if len(p.CipherSuites) > maxPolicySuites {
		return &PolicyError{Policy: p.Name, Field: "cipher_suites", Err: fmt.Errorf("more than %d", maxPolicySuites)}
	}
	if l := p.Limits; l.MaxChannels > math.MaxInt32 || l.MaxInFlight > math.MaxInt32 || l.Burst > math.MaxInt32 ||
		math.IsNaN(l.Rate) || math.IsInf(l.Rate, 0) {
		return fmt.Errorf("pgregistry: policy %q: limits: out of range", p.Name)
	}
	if len(p.RootsPEM) > 0 && !x509.NewCertPool().AppendCertsFromPEM(p.RootsPEM) {
		return fmt.Errorf("pgregistry: policy %q: roots: no PEM certificate", p.Name)
	}
	if p.CRLs != nil {
		if _, err := crlDER(p.CRLs); err != nil {
			return fmt.Errorf("pgregistry: policy %q: crls: %w", p.Name, err)
		}
	}
	return nil
}

// maxPolicySuites is the most cipher suites a policy lists (the column's
// CHECK): more than the offloader implements.
const maxPolicySuites = 64

// checkForClientCert checks p's negotiation policy for a device with a
// client certificate (server.Device.CheckNegotiation): p.check has passed
// it for a device without one, but the default key exchanges leave out
// RSA for a device with one, so a suite p lists may be unusable for it.
func (p *Policy) checkForClientCert(device string) error {
	d := server.Device{ID: "policy", MinVersion: p.MinVersion, MaxVersion: p.MaxVersion,
		CipherSuites: p.CipherSuites, KeyExchanges: p.KeyExchanges,
		// CheckNegotiation looks only at whether there is a certificate.
		ClientCertificate: [][]byte{nil}}
	if err := d.CheckNegotiation(); err != nil {
		return p.policyErr(device, err)
	}
	return nil
}

// policyForDevice reads a policy's negotiation policy, locking its row
// FOR SHARE until the transaction ends: a SetPolicy of it waits, and
// then sees the device this transaction adds (SetPolicy checks the
// policy's devices after its write).
func policyForDevice(ctx context.Context, q querier, name string) (*Policy, error) {
	p := &Policy{Name: name}
	var minVersion int32
	var neg storedNegotiation
	err := q.QueryRow(ctx, "SELECT min_version, max_version, cipher_suites, key_exchanges FROM policies WHERE name = $1 FOR SHARE", name).
		Scan(&minVersion, &neg.maxVersion, &neg.cipherSuites, &neg.keyExchanges)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %q", ErrNoPolicy, name)
	}
	if err != nil {
		return nil, fmt.Errorf("pgregistry: reading policy %q: %w", name, err)
	}
	p.MinVersion = uint16(minVersion)
	if p.MaxVersion, p.CipherSuites, p.KeyExchanges, err = neg.decode(name); err != nil {
		return nil, err
	}
	return p, nil
}

// checkDevicePolicy checks, inside a transaction, that the device id (with
// a client certificate or not) may use the policy named.
func checkDevicePolicy(ctx context.Context, q querier, id, policy string, clientCert bool) error {
	p, err := policyForDevice(ctx, q, policy)
	if err != nil {
		return err
	}
	if !clientCert {
		return nil // p.check passed it for a device without one when stored
	}
	return p.checkForClientCert(id)
}

// crlDER checks CRLs as certs.ParseCRLs does and returns them as DER, one
// after another (the form stored, which ParseCRLs reads back).
func crlDER(data []byte) ([]byte, error) {
	if len(data) > certs.MaxCRLFileBytes {
		return nil, fmt.Errorf("larger than %d bytes", certs.MaxCRLFileBytes)
	}
	if _, err := certs.ParseCRLs(data); err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("-----BEGIN")) {
		return data, nil
	}
	var der []byte
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return der, nil
		}
		der = append(der, b.Bytes...)
	}
}

type querier interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}

// SetPolicy creates or replaces policy p. Devices using it are notified
// (their replicas' cached entries dropped, their channels closed). A
// policy some device with a client certificate could not use (an RSA suite
// listed, RSA key exchange not) is refused with a *PolicyError naming the
// device.
func (a *Admin) SetPolicy(ctx context.Context, p Policy) error {
	if err := p.check(); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		if err := setPolicy(ctx, tx, p); err != nil {
			return err
		}
		// After the write, which holds the policy's row until commit: a
		// device added meanwhile under FOR SHARE (policyForDevice) is
		// either seen here or sees this policy.
		if p.checkForClientCert("") == nil {
			return nil
		}
		var id string
		err := tx.QueryRow(ctx, "SELECT id FROM devices WHERE policy = $1 AND client_cert IS NOT NULL ORDER BY id LIMIT 1", p.Name).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("pgregistry: storing policy %q: %w", p.Name, err)
		}
		return p.checkForClientCert(id)
	})
}

func setPolicy(ctx context.Context, q querier, p Policy) error {
	var roots []byte
	if len(p.RootsPEM) > 0 {
		sum := sha256.Sum256(p.RootsPEM)
		roots = sum[:]
		if _, err := q.Exec(ctx, "INSERT INTO trust_bundles (sha256, pem) VALUES ($1, $2) ON CONFLICT DO NOTHING", roots, string(p.RootsPEM)); err != nil {
			return fmt.Errorf("pgregistry: storing roots: %w", err)
		}
	}
	var crls []byte
	if p.CRLs != nil {
		der, err := crlDER(p.CRLs)
		if err != nil {
			return fmt.Errorf("pgregistry: policy %q: crls: %w", p.Name, err)
		}
		sum := sha256.Sum256(der)
		crls = sum[:]
		if _, err := q.Exec(ctx, "INSERT INTO crl_sets (sha256, der) VALUES ($1, $2) ON CONFLICT DO NOTHING", crls, der); err != nil {
			return fmt.Errorf("pgregistry: storing crls: %w", err)
		}
	}
	leafPins := make([][]byte, len(p.LeafPins))
	for i := range p.LeafPins {
		leafPins[i] = p.LeafPins[i][:]
	}
	pins := make([][]byte, len(p.Pins))
	for i := range p.Pins {
		pins[i] = p.Pins[i][:]
	}
	names := p.AllowedNames
	if names == nil {
		names = []string{}
	}
	l := p.Limits
	neg := negotiationColumns(p.MaxVersion, p.CipherSuites, p.KeyExchanges)
	_, err := q.Exec(ctx, `INSERT INTO policies (name, allowed_names, min_version, roots, leaf_pins,
			profile, pins, crls, max_channels, max_in_flight, rate, burst, frame_bytes,
			max_version, cipher_suites, key_exchanges)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
		ON CONFLICT (name) DO UPDATE SET allowed_names = $2, min_version = $3, roots = $4, leaf_pins = $5,
			profile = $6, pins = $7, crls = $8, max_channels = $9, max_in_flight = $10, rate = $11, burst = $12, frame_bytes = $13,
			max_version = $14, cipher_suites = $15, key_exchanges = $16`,
		p.Name, names, int32(p.MinVersion), roots, leafPins,
		p.Profile.String(), pins, crls, int32(l.MaxChannels), int32(l.MaxInFlight), l.Rate, int32(l.Burst), l.FrameBytes,
		neg.maxVersion, neg.cipherSuites, neg.keyExchanges)
	if err != nil {
		return fmt.Errorf("pgregistry: storing policy %q: %w", p.Name, err)
	}
	return nil
}

// DeviceSpec is a device to add: its policy by name, and its own secrets.
type DeviceSpec struct {
	ID     string
	Policy string
	PSK    []byte
	// ClientCertificate (DER, leaf first) and ClientKey, both or neither.
	ClientCertificate [][]byte
	ClientKey         crypto.Signer
}

// check validates the device's own fields (server.Device.Check).
func (s *DeviceSpec) check() error {
	d := server.Device{ID: s.ID, PSK: s.PSK, ClientCertificate: s.ClientCertificate, ClientKey: s.ClientKey}
	if err := d.Check(); err != nil {
		return fmt.Errorf("pgregistry: %w", err)
	}
	return nil
}

// sealed returns the spec's columns: the sealed PSK, the chain and the
// sealed key (nil without a client certificate).
func (a *Admin) sealed(s *DeviceSpec) (psk []byte, chain [][]byte, key []byte, err error) {
	if psk, err = a.kek.seal(purposePSK, s.ID, s.PSK); err != nil {
		return nil, nil, nil, err
	}
	if s.ClientKey != nil {
		der, err := x509.MarshalPKCS8PrivateKey(s.ClientKey)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("pgregistry: device %q: client key: %w", s.ID, err)
		}
		defer clear(der)
		if key, err = a.kek.seal(purposeClientKey, s.ID, der); err != nil {
			return nil, nil, nil, err
		}
		chain = s.ClientCertificate
	}
	return psk, chain, key, nil
}

// AddDevice adds a new device; ErrExists if the id is taken (revoked or
// not), ErrNoPolicy if its policy does not exist, a *PolicyError if a
// device with a client certificate cannot use its policy.
func (a *Admin) AddDevice(ctx context.Context, s DeviceSpec) error {
	if err := s.check(); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error { return a.addDevice(ctx, tx, s) })
}

// addDevice adds s inside a transaction.
func (a *Admin) addDevice(ctx context.Context, q querier, s DeviceSpec) error {
	if s.ClientKey != nil {
		if err := checkDevicePolicy(ctx, q, s.ID, s.Policy, true); err != nil {
			return err
		}
	}
	psk, chain, key, err := a.sealed(&s)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, "INSERT INTO devices (id, policy, psk_sealed, client_cert, client_key_sealed) VALUES ($1, $2, $3, $4, $5)",
		s.ID, s.Policy, psk, chain, key)
	return deviceErr(s.ID, s.Policy, err)
}

func deviceErr(id, policy string, err error) error {
	var pe *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe) && pe.Code == "23505":
		return fmt.Errorf("%w: %q", ErrExists, id)
	case errors.As(err, &pe) && pe.Code == "23503":
		return fmt.Errorf("%w: %q (device %q)", ErrNoPolicy, policy, id)
	}
	return fmt.Errorf("pgregistry: device %q: %w", id, err)
}

// DeviceInfo is what Show and List tell of a device: never its secrets.
type DeviceInfo struct {
	ID            string
	Policy        string
	HasClientCert bool
	Revoked       bool
	RevokedAt     time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Version       int64
}

const infoColumns = "id, policy, client_cert IS NOT NULL, revoked_at, created_at, updated_at, version"

func scanInfo(row pgx.Row) (DeviceInfo, error) {
	var i DeviceInfo
	var revoked *time.Time
	err := row.Scan(&i.ID, &i.Policy, &i.HasClientCert, &revoked, &i.CreatedAt, &i.UpdatedAt, &i.Version)
	if revoked != nil {
		i.Revoked, i.RevokedAt = true, *revoked
	}
	return i, err
}

// ShowDevice describes one device.
func (a *Admin) ShowDevice(ctx context.Context, id string) (DeviceInfo, error) {
	i, err := scanInfo(a.pool.QueryRow(ctx, "SELECT "+infoColumns+" FROM devices WHERE id = $1", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return i, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return i, err
}

// ListDevices calls f for each device in id order, stopping at its first
// error; policy, when not empty, lists only that policy's devices.
func (a *Admin) ListDevices(ctx context.Context, policy string, f func(DeviceInfo) error) error {
	rows, err := a.pool.Query(ctx, "SELECT "+infoColumns+" FROM devices WHERE $1 = '' OR policy = $1 ORDER BY id", policy)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		i, err := scanInfo(rows)
		if err != nil {
			return err
		}
		if err := f(i); err != nil {
			return err
		}
	}
	return rows.Err()
}

// SetDevicePolicy moves a device to another policy; a *PolicyError if the
// device has a client certificate the policy's negotiation cannot go with.
func (a *Admin) SetDevicePolicy(ctx context.Context, id, policy string) error {
	return pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		var hasCert bool
		err := tx.QueryRow(ctx, "SELECT client_cert IS NOT NULL FROM devices WHERE id = $1 FOR UPDATE", id).Scan(&hasCert)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %q", ErrNotFound, id)
		}
		if err != nil {
			return deviceErr(id, policy, err)
		}
		if err := checkDevicePolicy(ctx, tx, id, policy, hasCert); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "UPDATE devices SET policy = $2 WHERE id = $1", id, policy)
		return deviceErr(id, policy, err)
	})
}

// SetClientCert gives a device a client certificate and key, or (both
// nil) removes them.
func (a *Admin) SetClientCert(ctx context.Context, id string, chain [][]byte, key crypto.Signer) error {
	s := DeviceSpec{ID: id, PSK: make([]byte, 32), ClientCertificate: chain, ClientKey: key}
	if err := s.check(); err != nil {
		return err
	}
	_, c, k, err := a.sealed(&s)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		var policy string
		err := tx.QueryRow(ctx, "SELECT policy FROM devices WHERE id = $1 FOR UPDATE", id).Scan(&policy)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: %q", ErrNotFound, id)
		}
		if err != nil {
			return deviceErr(id, "", err)
		}
		if err := checkDevicePolicy(ctx, tx, id, policy, key != nil); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "UPDATE devices SET client_cert = $2, client_key_sealed = $3 WHERE id = $1", id, c, k)
		return deviceErr(id, "", err)
	})
}

// Revoke revokes a device: every replica drops its entry and closes its
// channels. Revoking a revoked device does nothing more.
func (a *Admin) Revoke(ctx context.Context, id string) error {
	tag, err := a.pool.Exec(ctx, "UPDATE devices SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1", id)
	if err != nil {
		return deviceErr(id, "", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return nil
}

// RotatePSK gives a device a new PSK, ending its channels under the old
// one. A revoked device is enabled again under the new PSK (re-provisioned).
func (a *Admin) RotatePSK(ctx context.Context, id string, psk []byte) error {
	s := DeviceSpec{ID: id, PSK: psk}
	if err := s.check(); err != nil {
		return err
	}
	sealed, err := a.kek.seal(purposePSK, id, psk)
	if err != nil {
		return err
	}
	tag, err := a.pool.Exec(ctx, "UPDATE devices SET psk_sealed = $2, revoked_at = NULL WHERE id = $1", id, sealed)
	if err != nil {
		return deviceErr(id, "", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return nil
}

// ImportDevice is a device of a YAML registry with its policy inline.
type ImportDevice struct {
	Device   server.Device
	RootsPEM []byte // the roots_file's content; nil for the system roots
	CRLs     []byte // the crls_file's content; nil for none (Device.CRLs is not read)
}

// Import adds devices in one transaction. Devices with the same policy
// (allowed names, versions, cipher suites, key exchanges, roots, leaf
// pins, profile, pins, CRLs and limits) share one policy, named
// "import-" and a digest of it, and one stored roots bundle. It refuses the
// whole import if any id exists already. It returns the policies made.
func (a *Admin) Import(ctx context.Context, devs []ImportDevice) (policies int, err error) {
	made := map[string]bool{}
	err = pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		for _, d := range devs {
			if d.Device.CRLs != nil && d.CRLs == nil {
				return fmt.Errorf("pgregistry: import: device %q: its CRLs' file content is missing", d.Device.ID)
			}
			p := Policy{AllowedNames: d.Device.AllowedNames, MinVersion: d.Device.MinVersion, RootsPEM: d.RootsPEM, LeafPins: d.Device.LeafPins,
				Profile: d.Device.Profile, Pins: d.Device.Pins, CRLs: d.CRLs, Limits: d.Device.Limits,
				MaxVersion: d.Device.MaxVersion, CipherSuites: d.Device.CipherSuites, KeyExchanges: d.Device.KeyExchanges}
			p.Name = policyDigest(&p)
			if !made[p.Name] {
				if err := p.check(); err != nil {
					return err
				}
				if err := setPolicy(ctx, tx, p); err != nil {
					return err
				}
				made[p.Name] = true
			}
			s := DeviceSpec{ID: d.Device.ID, Policy: p.Name, PSK: d.Device.PSK, ClientCertificate: d.Device.ClientCertificate, ClientKey: d.Device.ClientKey}
			if err := s.check(); err != nil {
				return err
			}
			if err := a.addDevice(ctx, tx, s); err != nil {
				return err
			}
		}
		return nil
	})
	return len(made), err
}

func policyDigest(p *Policy) string {
	h := sha256.New()
	names := slices.Clone(p.AllowedNames)
	slices.Sort(names)
	fmt.Fprintf(h, "%q|%d|", names, p.MinVersion)
	h.Write(p.RootsPEM)
	for _, pin := range p.LeafPins {
		h.Write(pin[:])
	}
	// Fields of schema version 2, each after a separator so that no two
	// policies' inputs run together.
	l := p.Limits
	fmt.Fprintf(h, "|%s|%d|%d|%g|%d|%d|", p.Profile, l.MaxChannels, l.MaxInFlight, l.Rate, l.Burst, l.FrameBytes)
	for _, pin := range p.Pins {
		h.Write(pin[:])
	}
	fmt.Fprintf(h, "|%d|", len(p.CRLs))
	h.Write(p.CRLs)
	// Fields of schema version 3, only when set: a policy without them
	// keeps the name an import made before them.
	if p.MaxVersion != 0 || len(p.CipherSuites) > 0 || len(p.KeyExchanges) > 0 {
		fmt.Fprintf(h, "|%d|%v|%v|", p.MaxVersion, p.CipherSuites, p.KeyExchanges)
	}
	return "import-" + hex.EncodeToString(h.Sum(nil)[:6])
}

// PolicyInfo is what ShowPolicy and ListPolicies tell of a policy: its
// fields, with its roots and CRLs named by their stored digests (Policy's
// RootsPEM and CRLs stay nil), and how many devices use it.
type PolicyInfo struct {
	Policy
	RootsSHA256 []byte // nil: the system roots
	CRLsSHA256  []byte // nil: no CRLs
	Devices     int64
	Version     int64
	UpdatedAt   time.Time
}

const policyColumns = `p.name, p.allowed_names, p.min_version, p.roots, p.leaf_pins, p.profile, p.pins, p.crls,
	p.max_channels, p.max_in_flight, p.rate, p.burst, p.frame_bytes, p.version, p.updated_at,
	p.max_version, p.cipher_suites, p.key_exchanges,
	(SELECT count(*) FROM devices d WHERE d.policy = p.name)`

func scanPolicy(row pgx.Row) (PolicyInfo, error) {
	var (
		i                               PolicyInfo
		minVersion                      int32
		leafPins, pins                  [][]byte
		profile                         string
		maxChannels, maxInFlight, burst int32
		neg                             storedNegotiation
	)
	err := row.Scan(&i.Name, &i.AllowedNames, &minVersion, &i.RootsSHA256, &leafPins, &profile, &pins, &i.CRLsSHA256,
		&maxChannels, &maxInFlight, &i.Limits.Rate, &burst, &i.Limits.FrameBytes, &i.Version, &i.UpdatedAt,
		&neg.maxVersion, &neg.cipherSuites, &neg.keyExchanges, &i.Devices)
	if err != nil {
		return i, err
	}
	i.MinVersion = uint16(minVersion)
	i.Limits.MaxChannels, i.Limits.MaxInFlight, i.Limits.Burst = int(maxChannels), int(maxInFlight), int(burst)
	if i.LeafPins, i.Pins, err = decodePins(i.Name, leafPins, pins); err != nil {
		return i, err
	}
	if i.Profile, err = certs.ParseProfile(profile); err != nil {
		return i, fmt.Errorf("pgregistry: policy %q: %w", i.Name, err)
	}
	if i.MaxVersion, i.CipherSuites, i.KeyExchanges, err = neg.decode(i.Name); err != nil {
		return i, err
	}
	return i, nil
}

// ShowPolicy describes one policy; ErrNoPolicy if there is none of that name.
func (a *Admin) ShowPolicy(ctx context.Context, name string) (PolicyInfo, error) {
	i, err := scanPolicy(a.pool.QueryRow(ctx, "SELECT "+policyColumns+" FROM policies p WHERE p.name = $1", name))
	if errors.Is(err, pgx.ErrNoRows) {
		return i, fmt.Errorf("%w: %q", ErrNoPolicy, name)
	}
	return i, err
}

// ListPolicies calls f for each policy in name order, stopping at its
// first error.
func (a *Admin) ListPolicies(ctx context.Context, f func(PolicyInfo) error) error {
	rows, err := a.pool.Query(ctx, "SELECT "+policyColumns+" FROM policies p ORDER BY p.name")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		i, err := scanPolicy(rows)
		if err != nil {
			return err
		}
		if err := f(i); err != nil {
			return err
		}
	}
	return rows.Err()
}

// DeleteDevice removes a device and its sealed secrets for good: every
// replica drops its entry and closes its channels, as for a revoke, and
// its id may be added again. Revoke keeps the row (and the record of the
// revocation); delete is for a device retired or provisioned by mistake.
func (a *Admin) DeleteDevice(ctx context.Context, id string) error {
	tag, err := a.pool.Exec(ctx, "DELETE FROM devices WHERE id = $1", id)
	if err != nil {
		return deviceErr(id, "", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	return nil
}
