package main

import (
	"cmp"
	"context"
	"crypto"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/server"
	"github.com/tlsoffload/tlsoffload/offloader/server/pgregistry"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"go.yaml.in/yaml/v3"
)

// The fleet's admin commands (docs/OFFLOADER.md): each reads the
// registry.postgres section of --config for the database and the KEK.

const adminUsage = `PostgreSQL registry (the config's registry.postgres names the database and KEK):
  migrate -c FILE                       create or update the schema (idempotent)
  policy set -c FILE NAME [--allow PATTERN]... [--min-version V] [--max-version V]
             [--cipher-suite IANA_NAME]... [--key-exchange ecdhe_rsa|ecdhe_ecdsa|rsa]...
             [--roots-file PEM]
             [--profile webpki|rfc5280] [--pin sha256/B64]... [--crls-file F]
             [--max-channels N] [--max-in-flight N] [--rate R] [--burst N] [--frame-bytes N]
                                        create or replace a policy (every field)
  policy show -c FILE NAME
  policy list -c FILE
  device add -c FILE ID --policy NAME [--psk-file F] [--client-cert F --client-key F]
                                        add a device; a new PSK is printed once
  device add -c FILE --csv FILE         bulk add: header id,policy[,psk]; new PSKs
                                        printed once as id,psk lines
  device show -c FILE ID
  device list -c FILE [--policy NAME]
  device set -c FILE ID [--policy NAME] [--client-cert F --client-key F | --no-client-cert]
  device revoke -c FILE ID              every replica closes its channels at once
  device delete -c FILE ID              remove a device for good (its id may be reused)
  device rotate-psk -c FILE ID [--psk-file F]
                                        a new PSK (printed once); re-enables a revoked device
  import -c FILE [--from YAML]          copy the devices of a YAML config (default:
                                        FILE itself) into PostgreSQL
  registry rekey -c FILE [--old-kek-file F]
                                        re-seal every secret under the config's kek_file,
                                        opening it with F (default: previous_kek_file)
`

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// parseInterleaved parses flags that may come before or after the
// positional arguments, which it returns.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// adminCommand runs migrate, policy, device and import.
func adminCommand(cmd string, args []string, stdout, stderr io.Writer) int {
	sub := ""
	if cmd == "device" || cmd == "policy" || cmd == "registry" {
		if len(args) == 0 {
			return usageFail(stderr, &usageError{cmd + ": missing subcommand"})
		}
		sub, args = args[0], args[1:]
	}
	name := strings.TrimSpace(cmd + " " + sub)
	fs := flag.NewFlagSet("offloader "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		path, policy, pskFile, certFile, keyFile, csvFile, from, minVersion, rootsFile string
		oldKEKFile                                                                     string
		noCert                                                                         bool
		allow                                                                          multiFlag
		ps                                                                             policyFlags
	)
	fs.StringVar(&path, "config", "", "")
	fs.StringVar(&path, "c", "", "")
	switch name {
	case "device add", "device set", "device list":
		fs.StringVar(&policy, "policy", "", "")
	}
	switch name {
	case "device add", "device rotate-psk":
		fs.StringVar(&pskFile, "psk-file", "", "")
	}
	switch name {
	case "device add", "device set":
		fs.StringVar(&certFile, "client-cert", "", "")
		fs.StringVar(&keyFile, "client-key", "", "")
	}
	switch name {
	case "device add":
		fs.StringVar(&csvFile, "csv", "", "")
	case "device set":
		fs.BoolVar(&noCert, "no-client-cert", false, "")
	case "import":
		fs.StringVar(&from, "from", "", "")
	case "policy set":
		fs.Var(&allow, "allow", "")
		fs.StringVar(&minVersion, "min-version", "", "")
		fs.StringVar(&rootsFile, "roots-file", "", "")
		ps.register(fs)
	case "registry rekey":
		fs.StringVar(&oldKEKFile, "old-kek-file", "", "")
	case "migrate", "device show", "device revoke", "device delete", "device list", "device rotate-psk", "policy show", "policy list":
	default:
		return usageFail(stderr, &usageError{fmt.Sprintf("unknown command %q", name)})
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return usageFail(stderr, &usageError{name + ": " + err.Error()})
	}
	if path == "" {
		return usageFail(stderr, &usageError{name + ": --config FILE is required"})
	}
	wantArgs := 1
	switch {
	case name == "migrate" || name == "import" || name == "device list" || name == "policy list" || name == "registry rekey" ||
		(name == "device add" && csvFile != ""):
		wantArgs = 0
	}
	if len(pos) != wantArgs {
		what := "ID"
		if strings.HasPrefix(name, "policy ") {
			what = "NAME"
		}
		if wantArgs == 0 {
			return usageFail(stderr, &usageError{fmt.Sprintf("%s: unexpected argument %q", name, pos[0])})
		}
		return usageFail(stderr, &usageError{fmt.Sprintf("%s: want one %s", name, what)})
	}
	if name == "device add" && csvFile == "" && policy == "" {
		return usageFail(stderr, &usageError{"device add: --policy NAME is required"})
	}
	if (certFile == "") != (keyFile == "") {
		return usageFail(stderr, &usageError{name + ": --client-cert and --client-key go together"})
	}

	cfg, err := loadConfig(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitError
	}
	if cfg.postgres == nil {
		fmt.Fprintf(stderr, "offloader: config %s: registry.postgres: missing (the admin commands work on a PostgreSQL registry)\n", path)
		return exitError
	}
	var oldKEK *pgregistry.KEK
	if name == "registry rekey" {
		switch {
		case oldKEKFile != "":
			if oldKEK, err = pgregistry.ReadKEKFile(oldKEKFile); err != nil {
				fmt.Fprintln(stderr, "offloader: error: --old-kek-file:", err)
				return exitError
			}
		case cfg.postgres.previousKEK != nil:
			oldKEK = cfg.postgres.previousKEK
		default:
			return usageFail(stderr, &usageError{"registry rekey: --old-kek-file F is required (or registry.postgres.previous_kek_file)"})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	pool, err := pgregistry.NewPool(ctx, cfg.postgres.dsn, 4)
	if err != nil {
		fmt.Fprintln(stderr, "offloader: error:", err)
		return exitError
	}
	defer pool.Close()
	a := &adminRun{ctx: ctx, pool: pool, admin: pgregistry.NewAdmin(pool, cfg.postgres.kek), stdout: stdout, stderr: stderr}
	// The config's KEK must be the database's before anything is sealed
	// with it (rekey checks both of its keys itself; migrate checks after
	// making the schema, and stores the check value of a new database).
	if name != "migrate" && name != "registry rekey" {
		if err := a.admin.CheckKEK(ctx); err != nil {
			fmt.Fprintln(stderr, "offloader: error:", err)
			return exitError
		}
	}
	switch name {
	case "migrate":
		err = a.migrate()
	case "policy set":
		err = a.policySet(pos[0], allow, minVersion, rootsFile, &ps)
	case "policy show":
		err = a.policyShow(pos[0])
	case "policy list":
		err = a.policyList()
	case "device add":
		if csvFile != "" {
			err = a.addCSV(csvFile)
		} else {
			err = a.deviceAdd(pos[0], policy, pskFile, certFile, keyFile)
		}
	case "device show":
		err = a.deviceShow(pos[0])
	case "device list":
		err = a.deviceList(policy)
	case "device set":
		err = a.deviceSet(pos[0], policy, certFile, keyFile, noCert)
	case "device revoke":
		if err = a.admin.Revoke(ctx, pos[0]); err == nil {
			fmt.Fprintf(stdout, "revoked %s\n", pos[0])
		}
	case "device delete":
		if err = a.admin.DeleteDevice(ctx, pos[0]); err == nil {
			fmt.Fprintf(stdout, "deleted %s\n", pos[0])
		}
	case "device rotate-psk":
		err = a.rotate(pos[0], pskFile)
	case "registry rekey":
		err = a.rekey(oldKEK)
	case "import":
		if from == "" {
			from = path
		}
		err = a.importYAML(from)
	}
	if err != nil {
		fmt.Fprintln(stderr, "offloader: error:", err)
		return exitError
	}
	return exitOK
}

type adminRun struct {
	ctx    context.Context
	pool   *pgxpool.Pool
	admin  *pgregistry.Admin
	stdout io.Writer
	stderr io.Writer
}

func (a *adminRun) migrate() error {
	applied, err := pgregistry.Migrate(a.ctx, a.pool)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(a.stdout, "schema up to date (version %d)\n", pgregistry.SchemaVersion())
	}
	for _, m := range applied {
		fmt.Fprintf(a.stdout, "applied %s\n", m)
	}
	// The KEK check value: stored for a new database (or derived from the
	// devices' PSKs for one made before it), checked otherwise.
	return a.admin.CheckKEK(a.ctx)
}

// policyFlags are policy set's flags of the fields a YAML device has as
// max_version, cipher_suites, key_exchanges, profile, pins, crls_file and
// limits.
type policyFlags struct {
	maxVersion, profile, crlsFile string
	suites, keyExchanges, pins    multiFlag
	limits                        fileLimits
}

func (f *policyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.maxVersion, "max-version", "", "")
	fs.Var(&f.suites, "cipher-suite", "")
	fs.Var(&f.keyExchanges, "key-exchange", "")
	fs.StringVar(&f.profile, "profile", "", "")
	fs.Var(&f.pins, "pin", "")
	fs.StringVar(&f.crlsFile, "crls-file", "", "")
	fs.IntVar(&f.limits.MaxChannels, "max-channels", 0, "")
	fs.IntVar(&f.limits.MaxInFlight, "max-in-flight", 0, "")
	fs.Float64Var(&f.limits.Rate, "rate", 0, "")
	fs.IntVar(&f.limits.Burst, "burst", 0, "")
	fs.Int64Var(&f.limits.FrameBytes, "frame-bytes", 0, "")
}

func (a *adminRun) policySet(name string, allow []string, minVersion, rootsFile string, f *policyFlags) error {
	p := pgregistry.Policy{Name: name, AllowedNames: allow}
	var err error
	if p.MinVersion, err = parseMinVersion(minVersion); err != nil {
		return fmt.Errorf("--min-version: %w", err)
	}
	// The negotiation fields, read as a YAML device's are (config.go).
	if p.MaxVersion, err = parseMaxVersion(f.maxVersion); err != nil {
		return fmt.Errorf("--max-version: %w", err)
	}
	for _, name := range f.suites {
		id, err := parseCipherSuite(name)
		if err != nil {
			return fmt.Errorf("--cipher-suite: %w", err)
		}
		p.CipherSuites = append(p.CipherSuites, id)
	}
	for _, name := range f.keyExchanges {
		kx, err := parseKeyExchange(name)
		if err != nil {
			return fmt.Errorf("--key-exchange: %w", err)
		}
		p.KeyExchanges = append(p.KeyExchanges, kx)
	}
	if rootsFile != "" {
		if p.RootsPEM, err = readSmall(rootsFile); err != nil {
			return fmt.Errorf("--roots-file: %w", err)
		}
	}
	if p.Profile, err = certs.ParseProfile(f.profile); err != nil {
		return fmt.Errorf("--profile: %w", trimCerts(err))
	}
	for _, s := range f.pins {
		pin, err := certs.ParsePin(s)
		if err != nil {
			return fmt.Errorf("--pin: %w", trimCerts(err))
		}
		p.Pins = append(p.Pins, pin)
	}
	if f.crlsFile != "" {
		if p.CRLs, err = readCRLFile(f.crlsFile); err != nil {
			return fmt.Errorf("--crls-file: %w", err)
		}
	}
	var field string
	if p.Limits, field, err = f.limits.limits(""); err != nil {
		return fmt.Errorf("--%s: %w", strings.ReplaceAll(strings.TrimPrefix(field, "."), "_", "-"), err)
	}
	if err := a.admin.SetPolicy(a.ctx, p); err != nil {
		return policyFlagErr(err, f)
	}
	fmt.Fprintf(a.stdout, "policy %s set\n", name)
	return nil
}

// policyFlagErr prefixes a refused policy's error with the flag that gave
// the field at fault (and, for a list, the value), so the operator sees
// both the flag and the stored field's name.
func policyFlagErr(err error, f *policyFlags) error {
	var pe *pgregistry.PolicyError
	if !errors.As(err, &pe) {
		return err
	}
	field, idx := pe.Field, -1
	if name, rest, ok := strings.Cut(pe.Field, "["); ok {
		field = name
		fmt.Sscanf(rest, "%d]", &idx)
	}
	flagFor := map[string]string{"min_version": "--min-version", "max_version": "--max-version", "cipher_suites": "--cipher-suite",
		"key_exchanges": "--key-exchange", "allowed_names": "--allow", "profile": "--profile", "pins": "--pin", "limits": "--max-channels/--max-in-flight/--rate/--burst/--frame-bytes"}
	flg, ok := flagFor[field]
	if !ok {
		return err
	}
	var list []string
	switch field {
	case "cipher_suites":
		list = f.suites
	case "key_exchanges":
		list = f.keyExchanges
	}
	if idx >= 0 && idx < len(list) {
		flg += " " + list[idx]
	}
	return fmt.Errorf("%s: %w", flg, err)
}

// rekey re-seals every device's secrets under the config's KEK.
func (a *adminRun) rekey(old *pgregistry.KEK) error {
	res, err := a.admin.Rekey(a.ctx, old)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "re-sealed %d secrets of %d devices under the new KEK; %d devices were under it already\n",
		res.Secrets, res.Devices, res.Already)
	return nil
}

// readCRLFile reads a --crls-file (PEM or DER CRLs, as a YAML device's
// crls_file), bounded by certs.MaxCRLFileBytes; SetPolicy parses it.
func readCRLFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, certs.MaxCRLFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > certs.MaxCRLFileBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, certs.MaxCRLFileBytes)
	}
	return data, nil
}

// maxVersionText tells a policy's max_version; 0 is the default, TLS 1.2.
func maxVersionText(v uint16) string {
	if v == 0 {
		return "1.2 (default)"
	}
	return versionName(v)
}

// suitesText tells a policy's cipher_suites by their IANA names.
func suitesText(ids []uint16) string {
	if len(ids) == 0 {
		return "(default: every suite the offloader implements)"
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		if s := handshake.SuiteByID(id); s != nil {
			names[i] = s.Name
		} else {
			names[i] = fmt.Sprintf("0x%04x", id)
		}
	}
	return strings.Join(names, " ")
}

func keyExchangeNames(kxs []handshake.KeyExchange, sep string) string {
	names := make([]string, len(kxs))
	for i, kx := range kxs {
		names[i] = server.KeyExchangeName(kx)
	}
	return strings.Join(names, sep)
}

// keyExchangesText tells a policy's key_exchanges.
func keyExchangesText(kxs []handshake.KeyExchange) string {
	if len(kxs) == 0 {
		return "(default: ecdhe_rsa ecdhe_ecdsa rsa; no rsa for a device with a client certificate)"
	}
	return keyExchangeNames(kxs, " ")
}

// digestName names a stored roots bundle or CRL set by its SHA-256, or
// says what its absence means.
func digestName(sum []byte, none string) string {
	if sum == nil {
		return none
	}
	return "sha256:" + hex.EncodeToString(sum)
}

// limitsText tells a policy's limits; 0 takes the replica's device_limits.
func limitsText(l server.DeviceLimits) string {
	if l == (server.DeviceLimits{}) {
		return "the replica's device_limits"
	}
	return fmt.Sprintf("max_channels=%d max_in_flight=%d rate=%g burst=%d frame_bytes=%d (0: the replica's)",
		l.MaxChannels, l.MaxInFlight, l.Rate, l.Burst, l.FrameBytes)
}

func (a *adminRun) policyShow(name string) error {
	i, err := a.admin.ShowPolicy(a.ctx, name)
	if err != nil {
		return err
	}
	pins := make([]string, len(i.Pins))
	for j, p := range i.Pins {
		pins[j] = p.String()
	}
	names := strings.Join(i.AllowedNames, " ")
	if names == "" {
		names = "(none: every name refused)"
	}
	w := tabwriter.NewWriter(a.stdout, 0, 8, 1, ' ', 0)
	for _, f := range [][2]string{
		{"name", i.Name},
		{"devices", fmt.Sprint(i.Devices)},
		{"allowed_names", names},
		{"min_version", versionName(i.MinVersion)},
		{"max_version", maxVersionText(i.MaxVersion)},
		{"cipher_suites", suitesText(i.CipherSuites)},
		{"key_exchanges", keyExchangesText(i.KeyExchanges)},
		{"roots", digestName(i.RootsSHA256, "system")},
		{"leaf_pins", fmt.Sprint(len(i.LeafPins))},
		{"profile", i.Profile.String()},
		{"pins", strings.Join(pins, " ")},
		{"crls", digestName(i.CRLsSHA256, "none")},
		{"limits", limitsText(i.Limits)},
		{"updated", i.UpdatedAt.UTC().Format(time.RFC3339)},
	} {
		fmt.Fprintf(w, "%s:\t%s\n", f[0], f[1])
	}
	return w.Flush()
}

func (a *adminRun) policyList() error {
	tw := tabwriter.NewWriter(a.stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDEVICES\tPROFILE\tMIN_VERSION\tMAX_VERSION\tCIPHER_SUITES\tKEY_EXCHANGES\tALLOWED_NAMES")
	err := a.admin.ListPolicies(a.ctx, func(i pgregistry.PolicyInfo) error {
		suites, kxs := "default", "default"
		if len(i.CipherSuites) > 0 {
			suites = fmt.Sprint(len(i.CipherSuites))
		}
		if len(i.KeyExchanges) > 0 {
			kxs = keyExchangeNames(i.KeyExchanges, ",")
		}
		_, err := fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", i.Name, i.Devices, i.Profile, versionName(i.MinVersion),
			versionName(cmp.Or(i.MaxVersion, handshake.VersionTLS12)), suites, kxs, strings.Join(i.AllowedNames, ","))
		return err
	})
	if err != nil {
		return err
	}
	return tw.Flush()
}

// newPSK reads a PSK from file, or makes one (shown true: print it once).
func newPSK(file string) (psk []byte, shown bool, err error) {
	if file != "" {
		psk, err = readKeyFile(file, wire.MinPSKLen, wire.MaxPSKLen)
		if err != nil {
			return nil, false, fmt.Errorf("--psk-file: %w", err)
		}
		return psk, false, nil
	}
	psk = make([]byte, newPSKLen)
	_, err = rand.Read(psk)
	return psk, true, err
}

func readClientCert(certFile, keyFile string) ([][]byte, crypto.Signer, error) {
	if certFile == "" {
		return nil, nil, nil
	}
	chain, err := readCertChain(certFile)
	if err != nil {
		return nil, nil, fmt.Errorf("--client-cert: %w", err)
	}
	key, err := readPrivateKey(keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("--client-key: %w", err)
	}
	return chain, key, nil
}

func (a *adminRun) deviceAdd(id, policy, pskFile, certFile, keyFile string) error {
	chain, key, err := readClientCert(certFile, keyFile)
	if err != nil {
		return err
	}
	psk, shown, err := newPSK(pskFile)
	if err != nil {
		return err
	}
	defer clear(psk)
	err = a.admin.AddDevice(a.ctx, pgregistry.DeviceSpec{ID: id, Policy: policy, PSK: psk, ClientCertificate: chain, ClientKey: key})
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "added %s (policy %s)\n", id, policy)
	if shown {
		fmt.Fprintf(a.stdout, "psk %s\n", hex.EncodeToString(psk))
	}
	return nil
}

func (a *adminRun) rotate(id, pskFile string) error {
	psk, shown, err := newPSK(pskFile)
	if err != nil {
		return err
	}
	defer clear(psk)
	if err := a.admin.RotatePSK(a.ctx, id, psk); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "rotated %s\n", id)
	if shown {
		fmt.Fprintf(a.stdout, "psk %s\n", hex.EncodeToString(psk))
	}
	return nil
}

func (a *adminRun) addCSV(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	// PSKs go to stdout only once the whole batch is stored.
	n, err := a.admin.AddCSV(a.ctx, f, a.stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "offloader: added %d devices\n", n)
	return nil
}

func state(i pgregistry.DeviceInfo) string {
	if i.Revoked {
		return "revoked " + i.RevokedAt.UTC().Format(time.RFC3339)
	}
	return "active"
}

func (a *adminRun) deviceShow(id string) error {
	i, err := a.admin.ShowDevice(a.ctx, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "id:          %s\npolicy:      %s\nstate:       %s\nclient_cert: %v\ncreated:     %s\nupdated:     %s\n",
		i.ID, i.Policy, state(i), i.HasClientCert, i.CreatedAt.UTC().Format(time.RFC3339), i.UpdatedAt.UTC().Format(time.RFC3339))
	return nil
}

func (a *adminRun) deviceList(policy string) error {
	tw := tabwriter.NewWriter(a.stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPOLICY\tSTATE\tCLIENT_CERT")
	err := a.admin.ListDevices(a.ctx, policy, func(i pgregistry.DeviceInfo) error {
		_, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%v\n", i.ID, i.Policy, state(i), i.HasClientCert)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Flush()
}

func (a *adminRun) deviceSet(id, policy, certFile, keyFile string, noCert bool) error {
	if policy == "" && certFile == "" && !noCert {
		return errors.New("device set: nothing to set (--policy, --client-cert/--client-key or --no-client-cert)")
	}
	if noCert && certFile != "" {
		return errors.New("device set: --no-client-cert with --client-cert")
	}
	if policy != "" {
		if err := a.admin.SetDevicePolicy(a.ctx, id, policy); err != nil {
			return err
		}
	}
	if certFile != "" || noCert {
		chain, key, err := readClientCert(certFile, keyFile)
		if err != nil {
			return err
		}
		if err := a.admin.SetClientCert(a.ctx, id, chain, key); err != nil {
			return err
		}
	}
	fmt.Fprintf(a.stdout, "updated %s\n", id)
	return nil
}

// importYAML copies the devices a YAML config lists into the registry.
func (a *adminRun) importYAML(path string) error {
	src, err := loadConfig(path)
	if err != nil {
		return err
	}
	if len(src.devices) == 0 {
		return fmt.Errorf("%s lists no devices", path)
	}
	files, err := deviceFiles(path)
	if err != nil {
		return err
	}
	if len(files) != len(src.devices) {
		return fmt.Errorf("%s changed while read", path)
	}
	devs := make([]pgregistry.ImportDevice, len(src.devices))
	for i, d := range src.devices {
		devs[i].Device = d
		if f := files[i].roots; f != "" {
			if devs[i].RootsPEM, err = readSmall(f); err != nil {
				return err
			}
		}
		if f := files[i].crls; f != "" {
			if devs[i].CRLs, err = readCRLFile(f); err != nil {
				return err
			}
		}
	}
	n, err := a.admin.Import(a.ctx, devs)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "imported %d devices under %d policies\n", len(devs), n)
	return nil
}

// policyFiles are the files of a YAML device whose content the registry
// stores (loadConfig validated them, but keeps them parsed: the roots as a
// pool, the CRLs as a set).
type policyFiles struct{ roots, crls string }

// deviceFiles returns the roots_file and crls_file of each device of the
// config at path, relative paths resolved as loadConfig does.
func deviceFiles(path string) ([]policyFiles, error) {
	data, err := readSmall(path)
	if err != nil {
		return nil, err
	}
	var fc struct {
		Devices []struct {
			RootsFile string `yaml:"roots_file"`
			CRLsFile  string `yaml:"crls_file"`
		} `yaml:"devices"`
	}
	if err := yaml.Unmarshal(data, &fc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	rel := func(f string) string {
		if f != "" && !filepath.IsAbs(f) {
			return filepath.Join(filepath.Dir(path), f)
		}
		return f
	}
	out := make([]policyFiles, len(fc.Devices))
	for i, d := range fc.Devices {
		out[i] = policyFiles{roots: rel(d.RootsFile), crls: rel(d.CRLsFile)}
	}
	return out, nil
}
