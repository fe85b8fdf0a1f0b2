package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"runtime"
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

// hsCase is one handshake configuration: a suite, a group and a
// certificate, the same for every client measured.
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

// env is a run's world: the PKI, PSK and root on disk in dir, the TLS
// server and offloader processes, and the device's offloader client.
type env struct {
	dir            string
	pki            *testpki.PKI
	leaves         map[string]*testpki.Leaf // "rsa", "ecdsa"
	psk            []byte
	tlsSrv, offSrv *child // serve-tls ("rsa", "ecdsa", "suite-XXXX" listeners), serve-offloader
	offAddr        string
	offload        *client.Client // the device's channel to the offloader
}

func newEnv() (_ *env, err error) {
	e := &env{leaves: map[string]*testpki.Leaf{}, psk: make([]byte, 32)}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	rand.Read(e.psk)
	if e.dir, err = os.MkdirTemp("", "offbench-"); err != nil {
		return nil, err
	}
	if e.pki, err = testpki.New(time.Now()); err != nil {
		return nil, err
	}
	if _, err = e.pki.WriteRoot(e.dir); err != nil {
		return nil, err
	}
	for name, kt := range map[string]testpki.KeyType{"rsa": testpki.RSA2048, "ecdsa": testpki.ECDSAP256} {
		if e.leaves[name], err = e.pki.Issue([]string{serverName, "127.0.0.1"}, kt, testpki.Good); err != nil {
			return nil, err
		}
		if _, _, err = e.leaves[name].WriteFiles(e.dir, name); err != nil {
			return nil, err
		}
	}
	if err = os.WriteFile(filepath.Join(e.dir, "device.psk"), []byte(hex.EncodeToString(e.psk)), 0o600); err != nil {
		return nil, err
	}
	if e.tlsSrv, err = startChild("serve-tls", e.dir); err != nil {
		return nil, err
	}
	if e.offSrv, err = startChild("serve-offloader", e.dir); err != nil {
		return nil, err
	}
	e.offAddr = e.offSrv.vals["offloader"]
	e.offload, err = e.newOffloadClient(e.offAddr)
	return e, err
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
	for _, c := range []*child{e.tlsSrv, e.offSrv} {
		if c != nil {
			c.stop()
		}
	}
	os.RemoveAll(e.dir)
}

func (e *env) tlsAddr(c hsCase) string { return e.tlsSrv.vals[c.cert] }

// deviceConfig is the offloaded client's Config for c; goTLSConfig is
// crypto/tls's: the same suite, group and name, with the same root, as
// crypto/tls verifies the chain itself.
func (e *env) deviceConfig(c hsCase, off tlsclient.Offloader) *tlsclient.Config {
	cfg := &tlsclient.Config{Offloader: off, ServerName: serverName, CipherSuites: []uint16{c.suite}}
	if c.group != 0 {
		cfg.Groups = []uint16{c.group}
	}
	return cfg
}

func (e *env) goTLSConfig(c hsCase) *tls.Config {
	cfg := &tls.Config{RootCAs: e.pki.Roots, ServerName: serverName, MinVersion: tls.VersionTLS12,
		MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{c.suite}}
	if c.group != 0 {
		cfg.CurvePreferences = []tls.CurveID{tls.CurveID(c.group)}
	}
	return cfg
}

// dialDevice runs one full (or, with a session cache, resumed) offloaded
// handshake; dialGoTLS one of crypto/tls.
func dialDevice(cfg *tlsclient.Config, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dialLimit)
	defer cancel()
	return (&tlsclient.Dialer{Config: cfg}).DialContext(ctx, "tcp", addr)
}

func dialGoTLS(cfg *tls.Config, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dialLimit)
	defer cancel()
	return (&tls.Dialer{Config: cfg}).DialContext(ctx, "tcp", addr)
}

// dialClose is one handshake and close.
func dialClose(dial func() (net.Conn, error)) func() error {
	return func() error {
		c, err := dial()
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// cpuPerOp runs op n times in sequence and returns this process's CPU
// (user+system, every thread) per op, in microseconds.
func cpuPerOp(n int, op func() error) (float64, error) {
	runtime.GC() // start each measurement from a clean heap
	before := rusageCPU()
	for i := 0; i < n; i++ {
		if err := op(); err != nil {
			return 0, err
		}
	}
	return float64(rusageCPU()-before) / 1e3 / float64(n), nil
}
