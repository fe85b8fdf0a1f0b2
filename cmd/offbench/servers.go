package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/tlsoffload/tlsoffload/offloader/server"
)

// serveTLS is the "serve-tls" process: a crypto/tls server (TLS 1.2,
// session tickets on, every AEAD suite including the RSA key exchange) on
// one listener per certificate, and the plain-TCP control's ping-pong
// listener. It prints "rsa ADDR", "ecdsa ADDR", "ctl ADDR", "ready".
//
// On a TLS connection, after the handshake, the client may send a bulk
// command: 'U' and an 8-byte length (the server reads and discards that many
// bytes, then writes one byte) or 'D' and a length (the server writes that
// many bytes). EOF closes the connection.
func serveTLS(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve-tls", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory with rsa.crt/key, ecdsa.crt/key")
	if err := fs.Parse(args); err != nil {
		return err
	}
	exitOnStdinEOF(stdin, nil)
	for _, name := range []string{"rsa", "ecdsa"} {
		cert, err := tls.LoadX509KeyPair(filepath.Join(*dir, name+".crt"), filepath.Join(*dir, name+".key"))
		if err != nil {
			return err
		}
		cfg := &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
			MaxVersion:   tls.VersionTLS12,
			CipherSuites: []uint16{
				tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
				tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
				tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
			},
			CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
		}
		l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
		if err != nil {
			return err
		}
		go acceptLoop(l, serveBulk)
		fmt.Fprintf(stdout, "%s %s\n", name, l.Addr())
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go acceptLoop(l, servePingPong)
	fmt.Fprintf(stdout, "ctl %s\nready\n", l.Addr())
	select {}
}

func acceptLoop(l net.Listener, serve func(net.Conn)) {
	for {
		c, err := l.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if strings.Contains(err.Error(), "too many open files") {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return
		}
		go serve(c)
	}
}

func serveBulk(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Minute))
	if err := c.(*tls.Conn).Handshake(); err != nil {
		return
	}
	buf := make([]byte, 64<<10)
	for {
		if _, err := io.ReadFull(c, buf[:9]); err != nil {
			return
		}
		n := int64(binary.BigEndian.Uint64(buf[1:9]))
		switch buf[0] {
		case 'U':
			if _, err := io.CopyBuffer(io.Discard, io.LimitReader(c, n), buf); err != nil {
				return
			}
			if _, err := c.Write([]byte{'k'}); err != nil {
				return
			}
		case 'D':
			for n > 0 {
				k := min(n, int64(len(buf)))
				if _, err := c.Write(buf[:k]); err != nil {
					return
				}
				n -= k
			}
		default:
			return
		}
	}
}

// serveOffloader is the "serve-offloader" process: server.New and Serve
// on loopback with one device (the PSK in device.psk, the roots in
// root.pem, any name allowed), sealed channels only, and the control's echo
// service. It prints "offloader ADDR", "echo ADDR", "ready". The line "cpu"
// on stdin is answered with the process's CPU time so far, in nanoseconds;
// "profile-start FILE" and "profile-stop" run a CPU profile (answer "ok").
func serveOffloader(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve-offloader", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory with device.psk and root.pem")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pskHex, err := os.ReadFile(filepath.Join(*dir, "device.psk"))
	if err != nil {
		return err
	}
	psk, err := hex.DecodeString(strings.TrimSpace(string(pskHex)))
	if err != nil {
		return err
	}
	rootPEM, err := os.ReadFile(filepath.Join(*dir, "root.pem"))
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
	el, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go acceptLoop(el, servePingPong)
	exitOnStdinEOF(stdin, func(line string) {
		switch cmd, arg, _ := strings.Cut(line, " "); cmd {
		case "cpu":
			fmt.Fprintf(stdout, "%d\n", rusageCPU().Nanoseconds())
		case "profile-start": // profile-start FILE
			answer := "ok"
			if err := startCPUProfile(arg); err != nil {
				answer = "error " + err.Error()
			}
			fmt.Fprintln(stdout, answer)
		case "profile-stop":
			answer := "ok"
			if err := stopCPUProfile(); err != nil {
				answer = "error " + err.Error()
			}
			fmt.Fprintln(stdout, answer)
		}
	})
	fmt.Fprintf(stdout, "offloader %s\necho %s\nready\n", l.Addr(), el.Addr())
	select {}
}

var cpuProfileFile *os.File

func startCPUProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := startProfiling(f); err != nil {
		f.Close()
		return err
	}
	cpuProfileFile = f
	return nil
}

func stopCPUProfile() error {
	if cpuProfileFile == nil {
		return errors.New("no profile running")
	}
	pprof.StopCPUProfile()
	err := cpuProfileFile.Close()
	cpuProfileFile = nil
	return err
}
