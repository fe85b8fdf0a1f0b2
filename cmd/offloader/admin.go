package main

import (
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
	"github.com/tlsoffload/tlsoffload/offloader/server/pgregistry"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"go.yaml.in/yaml/v3"
)

// The fleet's admin commands (docs/OFFLOADER.md): each reads the
// registry.postgres section of --config for the database and the KEK.

const adminUsage = `PostgreSQL registry (the config's registry.postgres names the database and KEK):
  migrate -c FILE                       create or update the schema (idempotent)
  policy set -c FILE NAME [--allow PATTERN]... [--min-version V] [--roots-file PEM]
  device add -c FILE ID --policy NAME [--psk-file F] [--client-cert F --client-key F]
                                        add a device; a new PSK is printed once
  device add -c FILE --csv FILE         bulk add: header id,policy[,psk]; new PSKs
                                        printed once as id,psk lines
  device show -c FILE ID
  device list -c FILE [--policy NAME]
  device set -c FILE ID [--policy NAME] [--client-cert F --client-key F | --no-client-cert]
  device revoke -c FILE ID              every replica closes its channels at once
  device rotate-psk -c FILE ID [--psk-file F]
                                        a new PSK (printed once); re-enables a revoked device
  import -c FILE [--from YAML]          copy the devices of a YAML config (default:
                                        FILE itself) into PostgreSQL
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
	if cmd == "device" || cmd == "policy" {
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
		noCert                                                                         bool
		allow                                                                          multiFlag
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
	case "migrate", "device show", "device revoke", "device list", "device rotate-psk":
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
	case name == "migrate" || name == "import" || name == "device list" || (name == "device add" && csvFile != ""):
		wantArgs = 0
	}
	if len(pos) != wantArgs {
		what := "ID"
		if name == "policy set" {
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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	pool, err := pgregistry.NewPool(ctx, cfg.postgres.dsn, 4)
	if err != nil {
		fmt.Fprintln(stderr, "offloader: error:", err)
		return exitError
	}
	defer pool.Close()
	a := &adminRun{ctx: ctx, pool: pool, admin: pgregistry.NewAdmin(pool, cfg.postgres.kek), stdout: stdout, stderr: stderr}
	switch name {
	case "migrate":
		err = a.migrate()
	case "policy set":
		err = a.policySet(pos[0], allow, minVersion, rootsFile)
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
	case "device rotate-psk":
		err = a.rotate(pos[0], pskFile)
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
		return nil
	}
	for _, m := range applied {
		fmt.Fprintf(a.stdout, "applied %s\n", m)
	}
	return nil
}

func (a *adminRun) policySet(name string, allow []string, minVersion, rootsFile string) error {
	p := pgregistry.Policy{Name: name, AllowedNames: allow}
	var err error
	if p.MinVersion, err = parseMinVersion(minVersion); err != nil {
		return fmt.Errorf("--min-version: %w", err)
	}
	if rootsFile != "" {
		if p.RootsPEM, err = readSmall(rootsFile); err != nil {
			return fmt.Errorf("--roots-file: %w", err)
		}
	}
	if err := a.admin.SetPolicy(a.ctx, p); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "policy %s set\n", name)
	return nil
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
	roots, err := rootsFiles(path)
	if err != nil {
		return err
	}
	devs := make([]pgregistry.ImportDevice, len(src.devices))
	for i, d := range src.devices {
		// The registry's policies do not hold these yet: importing the
		// device without them would widen what it may negotiate.
		if d.MaxVersion != 0 || len(d.CipherSuites) > 0 || len(d.KeyExchanges) > 0 {
			return fmt.Errorf("%s: devices[%d] (%s): max_version, cipher_suites and key_exchanges cannot be stored in the PostgreSQL registry yet: nothing imported", path, i, d.ID)
		}
		devs[i].Device = d
		if roots[i] != "" {
			if devs[i].RootsPEM, err = readSmall(roots[i]); err != nil {
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

// rootsFiles returns the roots_file of each device of the config at path
// (loadConfig validated it, but keeps the parsed pool, not the PEM the
// registry stores), relative paths resolved as loadConfig does.
func rootsFiles(path string) ([]string, error) {
	data, err := readSmall(path)
	if err != nil {
		return nil, err
	}
	var fc struct {
		Devices []struct {
			RootsFile string `yaml:"roots_file"`
		} `yaml:"devices"`
	}
	if err := yaml.Unmarshal(data, &fc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := make([]string, len(fc.Devices))
	for i, d := range fc.Devices {
		out[i] = d.RootsFile
		if d.RootsFile != "" && !filepath.IsAbs(d.RootsFile) {
			out[i] = filepath.Join(filepath.Dir(path), d.RootsFile)
		}
	}
	return out, nil
}
