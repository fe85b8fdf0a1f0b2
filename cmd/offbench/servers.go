package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/server"
)

// serveTLS is the "serve-tls DIR" process: a crypto/tls server (TLS 1.2,
// session tickets on, every AEAD suite including the RSA key exchange) on
// one listener per certificate of DIR, and for the emulated device one
// listener per suite of aeadSuites (RSA certificate, that suite only).
// It prints "rsa ADDR", "ecdsa ADDR", "suite-XXXX ADDR"..., "ready".
func serveTLS(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: serve-tls DIR")
	}
	exitOnStdinEOF(stdin)
	all := []uint16{
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
	}
	type listener struct {
		name, cert string
		suites     []uint16
	}
	listeners := []listener{{"rsa", "rsa", all}, {"ecdsa", "ecdsa", all}}
	for _, s := range aeadSuites {
		listeners = append(listeners, listener{listenerFor(s.suite), "rsa", []uint16{s.suite}})
	}
	for _, ls := range listeners {
		cert, err := tls.LoadX509KeyPair(filepath.Join(args[0], ls.cert+".crt"), filepath.Join(args[0], ls.cert+".key"))
		if err != nil {
			return err
		}
		l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
			Certificates:     []tls.Certificate{cert},
			MinVersion:       tls.VersionTLS12,
			MaxVersion:       tls.VersionTLS12,
			CipherSuites:     ls.suites,
			CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
		})
		if err != nil {
			return err
		}
		go acceptLoop(l, serveBulk)
		fmt.Fprintf(stdout, "%s %s\n", ls.name, l.Addr())
	}
	fmt.Fprintf(stdout, "ready\n")
	select {}
}

func acceptLoop(l net.Listener, serve func(net.Conn)) {
	for {
		c, err := l.Accept()
		if err != nil {
			time.Sleep(10 * time.Millisecond) // out of file descriptors, say: try again
			continue
		}
		go serve(c)
	}
}

// serveBulk serves a TLS connection: after the handshake, the client may
// send a bulk command, 'U' and an 8-byte length (the server reads and
// discards that many bytes, then writes one byte) or 'D' and a length (the
// server writes that many bytes). EOF or anything else closes it.
func serveBulk(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Minute))
	buf := make([]byte, 64<<10)
	for {
		if _, err := io.ReadFull(c, buf[:9]); err != nil {
			return
		}
		n := int64(binary.BigEndian.Uint64(buf[1:9]))
		var err error
		switch buf[0] {
		case 'U':
			if _, err = io.CopyBuffer(io.Discard, io.LimitReader(c, n), buf); err == nil {
				_, err = c.Write([]byte{'k'})
			}
		case 'D':
			for ; n > 0 && err == nil; n -= int64(len(buf)) {
				_, err = c.Write(buf[:min(n, int64(len(buf)))])
			}
		default:
			return
		}
		if err != nil {
			return
		}
	}
}

// readPSK reads the device's PSK, hex in DIR/device.psk.
func readPSK(dir string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, "device.psk"))
	if err != nil {
		return nil, err
	}
	return hex.DecodeString(strings.TrimSpace(string(b)))
}

// serveOffloader is the "serve-offloader DIR" process: server.New and
// Serve on loopback with one device (the PSK in device.psk, the roots in
// root.pem, any name allowed), sealed channels only. It prints
// "offloader ADDR", "ready".
func serveOffloader(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: serve-offloader DIR")
	}
	psk, err := readPSK(args[0])
	if err != nil {
		return err
	}
	rootPEM, err := os.ReadFile(filepath.Join(args[0], "root.pem"))
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		return errors.New("no root in root.pem")
	}
	reg := server.NewRegistry()
	if err := reg.Add(server.Device{ID: deviceID, PSK: psk, Roots: roots, AllowedNames: []string{"*"}}); err != nil {
		return err
	}
	srv, err := server.New(server.Config{Registry: reg, Logger: slog.New(slog.DiscardHandler), MaxInFlight: 1024})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go srv.Serve(l, false)
	exitOnStdinEOF(stdin)
	fmt.Fprintf(stdout, "offloader %s\nready\n", l.Addr())
	select {}
}
