package main

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The files the TLS options name, read for the embedded offloader's
// device entry: trust roots (--cacert, --capath), pins (--pinnedpubkey)
// and a client certificate (--cert, --key).

// maxTLSFile bounds a certificate, key or CA file.
const maxTLSFile = 16 << 20

func readTLSFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxTLSFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxTLSFile)
	}
	return os.ReadFile(path)
}

// loadRoots reads --cacert (a PEM bundle) and --capath (a directory of PEM
// files, as c_rehash leaves it); nil when neither is given (the system
// roots). As with curl and OpenSSL, a --capath that cannot be read or holds
// no certificate adds no root (warn says so) rather than failing: a server
// it should have vouched for is then refused with 60.
func loadRoots(cacert, capath string, warn func(format string, args ...any)) (*x509.CertPool, error) {
	if cacert == "" && capath == "" {
		return nil, nil
	}
	pool := x509.NewCertPool()
	if cacert != "" {
		b, err := readTLSFile(cacert)
		if err != nil {
			return nil, fail(exitCACert, "error setting certificate file: %v", err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return nil, fail(exitCACert, "error setting certificate file: %s holds no PEM certificate", cacert)
		}
	}
	if capath != "" {
		entries, err := os.ReadDir(capath)
		if err != nil {
			warn("--capath %s: %v", capath, err)
		}
		n := 0
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			b, err := readTLSFile(filepath.Join(capath, e.Name()))
			if err != nil {
				continue // a dangling hash link or an unreadable file: skipped, as OpenSSL does
			}
			if pool.AppendCertsFromPEM(b) {
				n++
			}
		}
		if n == 0 && err == nil {
			warn("--capath %s: no PEM certificate in it", capath)
		}
	}
	return pool, nil
}

// loadPins reads --pinnedpubkey: "sha256//BASE64" hashes separated by ';',
// or a file holding one public key (PEM "PUBLIC KEY" or DER
// SubjectPublicKeyInfo), as curl takes it.
func loadPins(v string) ([][sha256.Size]byte, error) {
	if v == "" {
		return nil, nil
	}
	if strings.HasPrefix(v, "sha256//") {
		var pins [][sha256.Size]byte
		for _, p := range strings.Split(v, ";") {
			b64, ok := strings.CutPrefix(strings.TrimSpace(p), "sha256//")
			raw, err := base64.StdEncoding.DecodeString(b64)
			if !ok || err != nil || len(raw) != sha256.Size {
				return nil, fail(exitPinned, "--pinnedpubkey: %q is not sha256// and the base64 of 32 bytes", p)
			}
			pins = append(pins, [sha256.Size]byte(raw))
		}
		return pins, nil
	}
	b, err := readTLSFile(v)
	if err != nil {
		return nil, fail(exitPinned, "--pinnedpubkey: %v", err)
	}
	der := b
	if blk, _ := pem.Decode(b); blk != nil {
		der = blk.Bytes
	}
	if _, err := x509.ParsePKIXPublicKey(der); err != nil {
		return nil, fail(exitPinned, "--pinnedpubkey %s: not a public key (PEM or DER SubjectPublicKeyInfo): %v", v, err)
	}
	return [][sha256.Size]byte{pinOf(der)}, nil
}

// loadClientCert reads --cert (PEM, the leaf first, optionally its key
// too) and --key (PEM; defaults to the --cert file). Encrypted keys are
// not supported.
func loadClientCert(certFile, keyFile string) ([][]byte, crypto.Signer, error) {
	if certFile == "" {
		return nil, nil, fail(exitClientCert, "--key needs --cert")
	}
	certFile, _, _ = strings.Cut(certFile, ":") // curl's FILE:PASSWORD; no password is used
	if keyFile == "" {
		keyFile = certFile
	}
	b, err := readTLSFile(certFile)
	if err != nil {
		return nil, nil, fail(exitClientCert, "unable to use client certificate: %v", err)
	}
	var chain [][]byte
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			chain = append(chain, blk.Bytes)
		}
	}
	if len(chain) == 0 {
		return nil, nil, fail(exitClientCert, "unable to use client certificate: no PEM certificate in %s", certFile)
	}
	kb, err := readTLSFile(keyFile)
	if err != nil {
		return nil, nil, fail(exitClientCert, "unable to set private key file: %v", err)
	}
	for rest := kb; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if !strings.HasSuffix(blk.Type, "PRIVATE KEY") {
			continue
		}
		if blk.Type == "ENCRYPTED PRIVATE KEY" || blk.Headers["Proc-Type"] != "" {
			return nil, nil, fail(exitClientCert, "unable to set private key file: %s is encrypted (not supported)", keyFile)
		}
		key, err := parseKey(blk.Bytes)
		if err != nil {
			return nil, nil, fail(exitClientCert, "unable to set private key file %s: %v", keyFile, err)
		}
		return chain, key, nil
	}
	return nil, nil, fail(exitClientCert, "unable to set private key file: no PEM private key in %s", keyFile)
}

func parseKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, errors.New("the key cannot sign")
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("not a PKCS#8, PKCS#1 or SEC 1 private key")
}
