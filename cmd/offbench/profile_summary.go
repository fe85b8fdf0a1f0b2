package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
)

// pprofRow is one line of `go tool pprof -top`.
type pprofRow struct {
	flat, cum float64 // in the profile's unit: seconds or bytes
	name      string
}

// pprofTop runs `go tool pprof -top` on a profile of this binary and parses
// its rows; total is the profile's total in the same unit.
func pprofTop(file, sampleIndex string, n int) (rows []pprofRow, total float64, err error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	self, err := os.Executable()
	if err != nil {
		return nil, 0, err
	}
	args := []string{"tool", "pprof", "-top", fmt.Sprintf("-nodecount=%d", n)}
	if sampleIndex != "" {
		args = append(args, "-sample_index="+sampleIndex)
	}
	out, err := exec.Command(goBin, append(args, self, file)...).Output()
	if err != nil {
		return nil, 0, fmt.Errorf("go tool pprof: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if strings.HasPrefix(line, "Showing nodes accounting for") {
			// "Showing nodes accounting for 360ms, 100% of 360ms total"
			if i := strings.Index(line, "% of "); i >= 0 {
				total, _ = parseQuantity(strings.Fields(line[i+5:])[0])
			}
			continue
		}
		if len(f) < 6 || !strings.HasSuffix(f[1], "%") {
			continue
		}
		flat, ok1 := parseQuantity(f[0])
		cum, ok2 := parseQuantity(f[3])
		if !ok1 || !ok2 {
			continue
		}
		rows = append(rows, pprofRow{flat: flat, cum: cum, name: strings.Join(f[5:], " ")})
	}
	if total == 0 {
		return nil, 0, errors.New("go tool pprof: empty profile")
	}
	return rows, total, nil
}

// parseQuantity reads pprof's "360ms", "1.20s", "19.31MB", "512B", "0".
func parseQuantity(s string) (float64, bool) {
	units := []struct {
		suffix string
		scale  float64
	}{{"ms", 1e-3}, {"us", 1e-6}, {"µs", 1e-6}, {"ns", 1e-9}, {"s", 1}, {"kB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"B", 1}}
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			v, err := strconv.ParseFloat(strings.TrimSuffix(s, u.suffix), 64)
			return v * u.scale, err == nil
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// cpuCategory groups a function of the CPU profile by what it is for.
func cpuCategory(fn string) string {
	runtimeFn := strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "internal/runtime")
	switch {
	case strings.Contains(fn, "syscall.") || strings.Contains(fn, "Syscall"):
		return "system calls (socket, connect, read, write, close, epoll)"
	case runtimeFn && containsAny(fn, "malloc", "heapBits", "memclr", "mspan", "mcache", "mcentral", "gc", "scan", "mark", "sweep", "fixalloc", "refill", "AllocCache"):
		return "allocation and garbage collection"
	case runtimeFn:
		return "scheduler, timers, futex (goroutine hand-offs, netpoll)"
	case strings.Contains(fn, "tlsoffload") || strings.Contains(fn, "cryptobyte"):
		return "tlsoffload code and cryptobyte"
	case strings.Contains(fn, "crypto/"):
		return "cryptography (hashes, HMAC/PRF, AEAD)"
	default:
		return "standard library: net, poll, context, sync, time, maps"
	}
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// summarizeProfiles prints where the profiled handshakes spent the device's
// CPU and allocations: by category and the top 10 functions.
func summarizeProfiles(e *env, o *options, rep *report, prof *deviceProfile) {
	rep.section("Device profile (offloaded " + hsCases[0].name + " full handshakes)")
	perHS := float64(o.profileN)
	if o.cpuProfile != "" {
		cpuTables(rep, "Device CPU", o.cpuProfile, o.profileN, cpuCategory,
			"The plain-TCP control pays most of the system calls and scheduling too: see the TLS-only figures above.")
	}
	if o.memProfile != "" {
		rep.table(memTable(fmt.Sprintf("Allocations: top 10 sites by bytes (%.0f B allocated per handshake)", prof.allocTotal/perHS),
			prof.allocSites, prof.allocTotal, perHS, "per handshake"))
		k := float64(o.idleConns)
		rep.table(memTable(fmt.Sprintf("Retained by %d idle connections: top 10 sites (%.0f B live per connection)", o.idleConns, prof.idleTotal/k),
			prof.idleSites, prof.idleTotal, k, "per connection"))
	}
	if o.cpuProfile != "" && e.offloaderProfiled > 0 {
		rep.section("Offloader profile (" + hsCases[0].name + " under load)")
		cpuTables(rep, "Offloader CPU", o.cpuProfile+".offloader", e.offloaderProfiled, offloaderCategory,
			"Compare with the floor's primitives in \"Offloader cost\" above.")
	}
}

// cpuTables prints a CPU profile of n handshakes by category and its top
// 10 functions.
func cpuTables(rep *report, what, file string, n int, category func(string) string, note string) {
	rows, total, err := pprofTop(file, "", 1000)
	if err != nil {
		rep.printf("\n%s profile: %v\n", what, err)
		return
	}
	perHS := float64(n)
	cats := map[string]float64{}
	for _, r := range rows {
		cats[category(r.name)] += r.flat
	}
	names := make([]string, 0, len(cats))
	for k := range cats {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return cats[names[i]] > cats[names[j]] })
	ct := &table{
		title:  fmt.Sprintf("%s by category (%d handshakes, %.0f µs sampled per handshake)", what, n, total/perHS*1e6),
		header: []string{"category", "µs per handshake", "share"},
	}
	for _, k := range names {
		ct.rows = append(ct.rows, []string{k, fmt.Sprintf("%.1f", cats[k]/perHS*1e6), fmt.Sprintf("%.1f %%", 100*cats[k]/total)})
	}
	ct.notes = []string{"From a CPU profile (100 Hz sampling, so a coarse picture) of every thread of the process, the Go runtime's included. " + note}
	rep.table(ct)
	rep.table(topTable(what+": top 10 functions by own time", rows, total, 10, func(v float64) string {
		return fmt.Sprintf("%.1f µs", v/perHS*1e6)
	}, "per handshake"))
}

// offloaderCategory groups a function of the offloader's CPU profile.
func offloaderCategory(fn string) string {
	switch {
	case containsAny(fn, "crypto/internal/fips140/rsa", "crypto/rsa", "bigmod"):
		return "RSA (SKE signature, chain signatures, RSA key exchange)"
	case containsAny(fn, "nistec", "ecdh", "ecdsa", "edwards25519", "x25519", "fiat", "p256"):
		return "elliptic curves (ECDH, ECDSA)"
	case containsAny(fn, "crypto/x509", "encoding/asn1", "crypto/internal/fips140/", "crypto/sha", "crypto/hmac", "chacha20", "poly1305", "crypto/aes", "crypto/cipher", "crypto/"):
		if containsAny(fn, "crypto/x509", "encoding/asn1") {
			return "certificate parsing and chain building (crypto/x509)"
		}
		return "hashes, PRF, channel AEAD, other crypto"
	}
	return cpuCategory(fn)
}

func memTable(title string, sites []memSite, total, per float64, perName string) *table {
	t := &table{title: title, header: []string{"function (first frame outside the runtime)", "bytes " + perName, "allocations " + perName, "share", "with callees " + perName}}
	for i, s := range sites {
		if i == 10 {
			break
		}
		t.rows = append(t.rows, []string{"`" + s.name + "`", fmt.Sprintf("%.0f", s.own/per), fmt.Sprintf("%.1f", s.ownObjs/per),
			fmt.Sprintf("%.1f %%", 100*s.own/total), fmt.Sprintf("%.0f", s.cum/per)})
	}
	t.notes = []string{"Read from runtime.MemProfile at MemProfileRate 1, before and after the profiled handshakes (or the idle connections): exact, and only theirs."}
	return t
}

func topTable(title string, rows []pprofRow, total float64, n int, f func(float64) string, per string) *table {
	t := &table{title: title, header: []string{"function", "own " + per, "share", "with callees " + per}}
	for i, r := range rows {
		if i == n {
			break
		}
		t.rows = append(t.rows, []string{"`" + r.name + "`", f(r.flat), fmt.Sprintf("%.1f %%", 100*r.flat/total), f(r.cum)})
	}
	return t
}
