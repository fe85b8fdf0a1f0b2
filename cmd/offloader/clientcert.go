package main

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// A device's client certificate: client_cert_file (a PEM chain, leaf
// first) and client_key_file (the leaf's key in PEM: PKCS #8, PKCS #1 or
// SEC 1), both or neither. The offloader answers a server's
// CertificateRequest with it and signs the CertificateVerify for the
// device. Errors name the file and never quote key material. The files are
// read here; what is in them is checked with the rest of the device entry
// (server.Device.Check).

// readCertChain reads PEM CERTIFICATE blocks, in order; anything else in
// the file is refused rather than skipped. Whether they parse is for
// server.Device.Check.
func readCertChain(path string) ([][]byte, error) {
	data, err := readSmall(path)
	if err != nil {
		return nil, err
	}
	var chain [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s: holds a %q PEM block; want only CERTIFICATE blocks, leaf first", path, b.Type)
		}
		chain = append(chain, b.Bytes)
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate in it", path)
	}
	return chain, nil
}

// readPrivateKey reads one PEM private key: PRIVATE KEY (PKCS #8), RSA
// PRIVATE KEY (PKCS #1) or EC PRIVATE KEY (SEC 1, possibly after the EC
// PARAMETERS block `openssl ecparam -genkey` writes). Encrypted keys are
// refused. Errors describe the file's shape, never its bytes.
func readPrivateKey(path string) (crypto.Signer, error) {
	data, err := readSmall(path)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	var key any
	n := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type == "EC PARAMETERS" {
			continue
		}
		n++
		if n > 1 {
			return nil, fmt.Errorf("%s: more than one PEM block besides EC PARAMETERS; want one private key", path)
		}
		if _, enc := b.Headers["Proc-Type"]; enc || b.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, fmt.Errorf("%s: the key is encrypted; store it unencrypted, readable by the offloader's user only (openssl pkey -in KEY -out PLAIN)", path)
		}
		var perr error
		switch b.Type {
		case "PRIVATE KEY":
			key, perr = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			key, perr = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			key, perr = x509.ParseECPrivateKey(b.Bytes)
		default:
			return nil, fmt.Errorf("%s: holds a %q PEM block; want PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY", path, b.Type)
		}
		clear(b.Bytes)
		if perr != nil {
			return nil, fmt.Errorf("%s: %s key does not parse", path, b.Type)
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("%s: no PEM private key in it", path)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: unsupported key type %T", path, key)
	}
	return s, nil
}
