// Command loaddevice is a device process for the replica tests
// (cmd/offloader's TestFailoverProcesses, TestReloadUnderLoadProcesses,
// TestSIGTERMDrainProcesses): it makes -n full handshakes, -c at a time,
// with a TLS server through one offloader/client listing every offloader
// address given (-offloaders, comma-separated), each handshake followed by
// an echo of "ping"; with -until-eof it goes on past -n until its stdin is
// closed, so a test can keep the load up for as long as its scenario
// lasts. A handshake that fails is tried once more. It prints one line per
// handshake on stdout as it goes, then the client's fail-over counts:
//
//	ok MICROS            succeeded on the first try, in MICROS
//	retried MICROS       failed once (the error on stderr), then succeeded
//	failed MICROS        failed twice
//	client resends R down D busy B drained N
//	                     the client's fail-over counts (client.Stats): flights
//	                     sent again, addresses marked down, busy marks,
//	                     channels closed by a replica shutting down
//
// It exits 0 when every handshake succeeded, 1 otherwise, 2 on bad
// arguments. No session cache: every handshake is a full one.
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/tlsclient"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	fs := flag.NewFlagSet("loaddevice", flag.ContinueOnError)
	var (
		server     = fs.String("server", "", "TLS server `host:port`")
		name       = fs.String("name", "", "the server's name (SNI, verification)")
		offloaders = fs.String("offloaders", "", "offloader addresses, comma-separated")
		device     = fs.String("device", "", "device id")
		pskFile    = fs.String("psk-file", "", "file holding the PSK as hex")
		n          = fs.Int("n", 100, "handshakes to make")
		conc       = fs.Int("c", 1, "handshakes at a time")
		downFor    = fs.Duration("down-for", 0, "client.Config.DownFor (0: its default)")
		maxAge     = fs.Duration("max-channel-age", 0, "client.Config.MaxChannelAge (0: its default)")
		timeout    = fs.Duration("timeout", 20*time.Second, "bound on one handshake and echo")
		untilEOF   = fs.Bool("until-eof", false, "after -n handshakes, go on until stdin is closed")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *server == "" || *name == "" || *offloaders == "" || *device == "" || *pskFile == "" || *n < 1 || *conc < 1 {
		fmt.Fprintln(os.Stderr, "loaddevice: -server, -name, -offloaders, -device, -psk-file, -n >= 1 and -c >= 1 are required")
		return 2
	}
	pskHex, err := os.ReadFile(*pskFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loaddevice:", err)
		return 2
	}
	psk, err := hex.DecodeString(strings.TrimSpace(string(pskHex)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "loaddevice: psk:", err)
		return 2
	}
	off, err := client.New(client.Config{
		Addrs: strings.Split(*offloaders, ","), DeviceID: *device, PSK: psk,
		DownFor: *downFor, MaxChannelAge: *maxAge,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "loaddevice:", err)
		return 2
	}
	defer off.Close()
	cfg := &tlsclient.Config{Offloader: off, ServerName: *name}

	once := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		var d net.Dialer
		raw, err := d.DialContext(ctx, "tcp", *server)
		if err != nil {
			return err
		}
		defer raw.Close()
		dl, _ := ctx.Deadline()
		raw.SetDeadline(dl)
		c := tlsclient.Client(raw, cfg)
		if err := c.HandshakeContext(ctx); err != nil {
			return err
		}
		if _, err := io.WriteString(c, "ping"); err != nil {
			return err
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil {
			return err
		}
		if string(buf) != "ping" {
			return errors.New("echo: got " + fmt.Sprintf("%q", buf))
		}
		return nil
	}

	// more reports whether the k-th handshake (from 1) is to be made.
	var eof atomic.Bool
	if *untilEOF {
		go func() {
			io.Copy(io.Discard, os.Stdin)
			eof.Store(true)
		}()
	}
	more := func(k int64) bool { return k <= int64(*n) || *untilEOF && !eof.Load() }

	var (
		failed atomic.Int64
		next   atomic.Int64
		out    sync.Mutex // one line at a time on stdout
		wg     sync.WaitGroup
	)
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for more(next.Add(1)) {
				begin := time.Now()
				word := "ok"
				if err := once(); err != nil {
					fmt.Fprintf(os.Stderr, "loaddevice: %s: handshake failed, retrying: %v\n", *device, err)
					word = "retried"
					if err := once(); err != nil {
						fmt.Fprintf(os.Stderr, "loaddevice: %s: retry failed: %v\n", *device, err)
						word = "failed"
						failed.Add(1)
					}
				}
				out.Lock()
				fmt.Printf("%s %d\n", word, time.Since(begin).Microseconds())
				out.Unlock()
			}
		}()
	}
	wg.Wait()
	st := off.Stats()
	fmt.Printf("client resends %d down %d busy %d drained %d\n", st.Resends, st.Down, st.Busy, st.Drained)
	if failed.Load() > 0 {
		return 1
	}
	return 0
}
