package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/tlsclient"
)

const (
	deviceID   = "offbench-device"
	serverName = "localhost"
	dialLimit  = 20 * time.Second // bound on any one handshake
)

// hsCase is one handshake configuration measured on both clients: the same
// suite, group and certificate.
type hsCase struct {
	name  string
	suite uint16
	group uint16 // 0 for the RSA key exchange
	cert  string // which server listener: "rsa" or "ecdsa"
}

var hsCases = []hsCase{
	{"ECDHE-RSA-2048, X25519", handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, handshake.GroupX25519, "rsa"},
	{"ECDHE-RSA-2048, P-256", handshake.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, handshake.GroupP256, "rsa"},
	{"ECDHE-ECDSA-P256, P-256", handshake.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, handshake.GroupP256, "ecdsa"},
	{"RSA-2048 key exchange", handshake.TLS_RSA_WITH_AES_128_GCM_SHA256, 0, "rsa"},
}

// env is a run's world: the PKI on disk, the TLS server and offloader
// processes, and the device's offloader client.
type env struct {
	dir      string
	pki      *testpki.PKI
	leaves   map[string]*testpki.Leaf // "rsa", "ecdsa"
	roots    *x509.CertPool
	psk      []byte
	tlsSrv   *child // serve-tls: "rsa", "ecdsa" TLS listeners, "ctl" ping-pong
	offSrv   *child // serve-offloader: "offloader", "echo"
	offAddr  string
	offload  *client.Client        // the device's channel to the offloader
	echoConn net.Conn              // the control's stand-in for that channel
	plans    map[string]*fullPlans // control plans by case name, recorded once

	offloaderProfiled int // handshakes under the offloader's CPU profile
}

func newEnv(o *options) (_ *env, err error) {
	e := &env{leaves: map[string]*testpki.Leaf{}, plans: map[string]*fullPlans{}}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	if e.dir, err = os.MkdirTemp("", "offbench-"); err != nil {
		return nil, err
	}
	if e.pki, err = testpki.New(time.Now()); err != nil {
		return nil, err
	}
	e.roots = e.pki.Roots
	if _, err = e.pki.WriteRoot(e.dir); err != nil {
		return nil, err
	}
	for name, kt := range map[string]testpki.KeyType{"rsa": testpki.RSA2048, "ecdsa": testpki.ECDSAP256} {
		leaf, err := e.pki.Issue([]string{serverName, "127.0.0.1"}, kt, testpki.Good)
		if err != nil {
			return nil, err
		}
		if _, _, err := leaf.WriteFiles(e.dir, name); err != nil {
			return nil, err
		}
		e.leaves[name] = leaf
	}
	e.psk = make([]byte, 32)
	rand.Read(e.psk)
	if err = os.WriteFile(filepath.Join(e.dir, "device.psk"), []byte(hex.EncodeToString(e.psk)), 0o600); err != nil {
		return nil, err
	}
	if e.tlsSrv, err = startChild("serve-tls", "-dir", e.dir); err != nil {
		return nil, err
	}
	if e.offSrv, err = startChild("serve-offloader", "-dir", e.dir); err != nil {
		return nil, err
	}
	e.offAddr = e.offSrv.vals["offloader"]
	if e.offload, err = e.newOffloadClient(e.offAddr); err != nil {
		return nil, err
	}
	if e.echoConn, err = net.Dial("tcp", e.offSrv.vals["echo"]); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *env) newOffloadClient(addr string, opts ...func(*client.Config)) (*client.Client, error) {
	cfg := client.Config{Addrs: []string{addr}, DeviceID: deviceID, PSK: e.psk}
	for _, o := range opts {
		o(&cfg)
	}
	return client.New(cfg)
}

func (e *env) close() {
	if e.offload != nil {
		e.offload.Close()
	}
	if e.echoConn != nil {
		e.echoConn.Close()
	}
	for _, c := range []*child{e.tlsSrv, e.offSrv} {
		if c != nil {
			c.stop()
		}
	}
	if e.dir != "" {
		os.RemoveAll(e.dir)
	}
}

func (e *env) tlsAddr(c hsCase) string { return e.tlsSrv.vals[c.cert] }

// deviceConfig is the offloaded client's Config for c.
func (e *env) deviceConfig(c hsCase, off tlsclient.Offloader) *tlsclient.Config {
	cfg := &tlsclient.Config{Offloader: off, ServerName: serverName, CipherSuites: []uint16{c.suite}}
	if c.group != 0 {
		cfg.Groups = []uint16{c.group}
	}
	return cfg
}

// goTLSConfig is crypto/tls's Config for c: the same suite, group, roots
// and name; crypto/tls verifies the chain itself.
func (e *env) goTLSConfig(c hsCase) *tls.Config {
	cfg := &tls.Config{
		RootCAs:      e.roots,
		ServerName:   serverName,
		MinVersion:   tls.VersionTLS12,
		MaxVersion:   tls.VersionTLS12,
		CipherSuites: []uint16{c.suite},
	}
	if c.group != 0 {
		cfg.CurvePreferences = []tls.CurveID{tls.CurveID(c.group)}
	}
	return cfg
}

// dialDevice runs one full (or, with a session cache, resumed) offloaded
// handshake.
func dialDevice(cfg *tlsclient.Config, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dialLimit)
	defer cancel()
	d := &tlsclient.Dialer{Config: cfg}
	return d.DialContext(ctx, "tcp", addr)
}

// dialGoTLS runs one crypto/tls handshake.
func dialGoTLS(cfg *tls.Config, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dialLimit)
	defer cancel()
	d := &tls.Dialer{Config: cfg}
	return d.DialContext(ctx, "tcp", addr)
}

// The plain-TCP control speaks a ping-pong protocol to the "ctl" listener
// of serve-tls and the "echo" listener of serve-offloader: the client writes
// a message of n bytes whose first eight say n, the size m of the answer
// wanted and a think time in microseconds; the server reads it whole, stays
// busy for the think time (as a real server computing its answer, so the
// client waits as long), and writes m bytes (none for 0).

const pingHeader = 8

// pingPong sends n bytes asking for an answer of m bytes after think, and
// reads it (if m > 0). It returns the time from the end of its write to the
// return of the answer's first read (0 when m is 0).
func pingPong(c net.Conn, buf []byte, n, m int, think time.Duration) (time.Duration, error) {
	if n < pingHeader || n > len(buf) || m > len(buf) || n > 0xffff || m > 0xffff {
		return 0, fmt.Errorf("ping-pong sizes %d/%d out of range", n, m)
	}
	binary.BigEndian.PutUint16(buf[0:2], uint16(n))
	binary.BigEndian.PutUint16(buf[2:4], uint16(m))
	binary.BigEndian.PutUint32(buf[4:8], uint32(max(think, 0)/time.Microsecond))
	if _, err := c.Write(buf[:n]); err != nil {
		return 0, err
	}
	if m == 0 {
		return 0, nil
	}
	sent := time.Now()
	k, err := c.Read(buf[:m])
	wait := time.Since(sent)
	if err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(c, buf[k:m]); err != nil {
		return 0, err
	}
	return wait, nil
}

// servePingPong answers ping-pongs on c until EOF.
func servePingPong(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 1<<16)
	for {
		if _, err := io.ReadFull(c, buf[:pingHeader]); err != nil {
			return
		}
		n, m := int(binary.BigEndian.Uint16(buf[0:2])), int(binary.BigEndian.Uint16(buf[2:4]))
		think := time.Duration(binary.BigEndian.Uint32(buf[4:8])) * time.Microsecond
		if n < pingHeader {
			return
		}
		if _, err := io.ReadFull(c, buf[:n-pingHeader]); err != nil {
			return
		}
		// Busy, not asleep: a real server computes during this time, and
		// a sleep would round sub-millisecond waits up to the timer's grain.
		for end := time.Now().Add(think); time.Now().Before(end); {
		}
		if m > 0 {
			if _, err := c.Write(buf[:m]); err != nil {
				return
			}
		}
	}
}
