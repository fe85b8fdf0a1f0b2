package main

// The one file that knows the offloader and tlsclient: it builds the
// embedded or remote offloader and the tlsclient configuration, runs a
// handshake over a connection dial.go made, and reads back what -v, -w and
// the exit codes need. Everything else in ocurl sees tlsSetup and tlsInfo.

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/offloader/client"
	"github.com/tlsoffload/tlsoffload/offloader/server"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"github.com/tlsoffload/tlsoffload/tlsclient"
	"github.com/tlsoffload/tlsoffload/tlsclient/tlsstate"
)

// tlsSetup is the TLS side of a run, made at the first https connection:
// the offloader and the configuration every handshake copies.
type tlsSetup struct {
	template tlsclient.Config
	desc     string         // the offloader, for hints: its address or "(embedded)"
	roots    *x509.CertPool // embedded: the roots; nil for the system's
	insecure bool           // -k: the embedded offloader does not verify
	close    func()
}

// tlsInfo is what a handshake reports.
type tlsInfo struct {
	version    string // "TLSv1.2"
	cipher     string // OpenSSL name, as --ciphers takes
	alpn       string
	resumed    bool
	peer       []*x509.Certificate // as the server presented them
	verify     int64               // OpenSSL's verify result code: 0 verified
	offload    time.Duration       // time spent waiting on the offloader
	roundTrips int                 // offloader round trips
	took       time.Duration       // the whole handshake
}

// newTLSSetup builds the offloader: a client of a running one with
// --offloader, else an embedded server reached over an in-memory pipe with
// the same PSK channel, so both paths run the same protocol. The embedded
// offloader's device entry carries what the command line asks of the
// verification (roots, -k, pins, a client certificate); a remote
// offloader's policy lives on the offloader, and the protocol has no way
// to ask it for another, so those options are refused with it.
func (r *run) newTLSSetup() (*tlsSetup, error) {
	o := r.o
	suites, err := cipherIDs(o.ciphers)
	if err != nil {
		return nil, err
	}
	t := &tlsSetup{template: tlsclient.Config{
		CipherSuites: suites,
		MinVersion:   o.minVersion,
		MaxVersion:   o.maxVersion,
		SessionCache: tlsclient.NewLRUSessionCache(8),
		Trace:        r.traceTLS,
	}}
	if o.offloader != "" {
		if err := refuseWithRemote(o); err != nil {
			return nil, err
		}
		pskHex, err := os.ReadFile(o.pskFile)
		if err != nil {
			return nil, usagef("--psk-file: %v", err)
		}
		psk, err := client.ParsePSK(pskHex)
		if err != nil {
			return nil, usagef("--psk-file %s: want %d..%d bytes as hex (offloader psk makes one)", o.pskFile, wire.MinPSKLen, wire.MaxPSKLen)
		}
		addrs := strings.Split(o.offloader, ",")
		for i := range addrs {
			addrs[i] = strings.TrimSpace(addrs[i])
		}
		cl, err := client.New(client.Config{Addrs: addrs, DeviceID: o.deviceID, PSK: psk,
			Sequential: o.sequential, Trace: r.traceTLS})
		if err != nil {
			return nil, usagef("--offloader: %v", err)
		}
		t.template.Offloader, t.desc, t.close = cl, o.offloader, func() { cl.Close() }
		r.tracef("offloader: %s as device %q over a PSK channel", o.offloader, o.deviceID)
		return t, nil
	}

	dev := server.Device{ID: "ocurl", AllowedNames: []string{"*"}, MinVersion: o.minVersion, InsecureSkipVerify: o.insecure}
	roots, err := loadRoots(o.cacert, o.capath, r.warnf)
	if err != nil {
		return nil, err
	}
	dev.Roots, t.roots, t.insecure = roots, roots, o.insecure
	if dev.LeafPins, err = loadPins(o.pinnedPubKey); err != nil {
		return nil, err
	}
	if o.cert != "" || o.key != "" {
		if dev.ClientCertificate, dev.ClientKey, err = loadClientCert(o.cert, o.key); err != nil {
			return nil, err
		}
	}
	dev.PSK = make([]byte, 32)
	if _, err := rand.Read(dev.PSK); err != nil {
		return nil, err
	}
	reg := server.NewRegistry()
	if err := reg.Add(dev); err != nil {
		var de *server.DeviceError
		if errors.As(err, &de) && (de.Field == "ClientCertificate" || de.Field == "ClientKey") {
			return nil, fail(exitClientCert, "--cert/--key: %v", de.Err)
		}
		return nil, fail(exitClientCert, "%v", err)
	}
	srv, err := server.New(server.Config{Registry: reg, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, err
	}
	srvCtx, stop := context.WithCancel(context.Background())
	cl, err := client.New(client.Config{
		Addrs:      []string{"embedded"},
		DeviceID:   dev.ID,
		PSK:        dev.PSK,
		Sequential: o.sequential,
		Trace:      r.traceTLS,
		Dial: func(ctx context.Context, addr string) (net.Conn, error) {
			devEnd, srvEnd := net.Pipe()
			go srv.ServeConn(srvCtx, srvEnd, false)
			return devEnd, nil
		},
	})
	if err != nil {
		stop()
		return nil, err
	}
	t.template.Offloader, t.desc = cl, "(embedded)"
	t.close = func() { cl.Close(); stop(); srv.Close() }
	rootsDesc := "the system roots"
	switch {
	case o.insecure:
		rootsDesc = "any certificate (--insecure)"
	case o.cacert != "" || o.capath != "":
		rootsDesc = strings.Trim(o.cacert+" "+o.capath, " ")
	}
	r.tracef("offloader: embedded in this process (PSK channel over a pipe), trusting %s", rootsDesc)
	if len(dev.LeafPins) > 0 {
		r.tracef("offloader: the server's key must match one of %d pins", len(dev.LeafPins))
	}
	return t, nil
}

// roundTripCounter measures one handshake's offloader round trips, through
// client.WithRoundTripHook.
type roundTripCounter struct {
	mu    sync.Mutex
	calls int
	spent time.Duration
}

func (c *roundTripCounter) hook(ops string, took time.Duration, err error) {
	c.mu.Lock()
	c.calls++
	c.spent += took
	c.mu.Unlock()
}

// handshake runs TLS over raw for serverName, offering alpn.
func (t *tlsSetup) handshake(ctx context.Context, raw net.Conn, serverName string, alpn []string) (net.Conn, *tlsInfo, error) {
	cfg := t.template
	counter := &roundTripCounter{}
	ctx = client.WithRoundTripHook(ctx, counter.hook)
	cfg.ServerName = serverName
	cfg.NextProtos = alpn
	start := time.Now()
	tc := tlsclient.Client(raw, &cfg)
	err := tc.HandshakeContext(ctx)
	info := &tlsInfo{took: time.Since(start)}
	counter.mu.Lock()
	info.offload, info.roundTrips = counter.spent, counter.calls
	counter.mu.Unlock()
	if err != nil {
		return nil, info, t.handshakeFailure(err, info)
	}
	st := tlsstate.Convert(tc.ConnectionState())
	info.version = versionName(st.Version)
	info.cipher = cipherName(st.CipherSuite)
	info.alpn = st.NegotiatedProtocol
	info.resumed = st.DidResume
	info.peer = st.PeerCertificates
	if t.insecure && len(st.PeerCertificates) > 0 {
		// The embedded offloader did not verify: verify the same way once
		// more, only to report the result (%{ssl_verify_result}, -v).
		chain := make([][]byte, len(st.PeerCertificates))
		for i, c := range st.PeerCertificates {
			chain[i] = c.Raw
		}
		roots := t.roots
		if roots == nil {
			roots, _ = x509.SystemCertPool()
		}
		if _, err := (&certs.Verifier{Roots: roots}).Verify(chain, strings.TrimSuffix(serverName, ".")); err != nil {
			var ce *certs.Error
			info.verify = 1
			if errors.As(err, &ce) {
				info.verify = verifyCode(wire.Reason(ce.Reason), st.PeerCertificates)
			}
		}
	}
	return tc, info, nil
}

// handshakeFailure maps a handshake error to its exit code and hint.
func (t *tlsSetup) handshakeFailure(err error, info *tlsInfo) error {
	var certErr *tlsclient.CertificateError
	var werr *wire.Error
	if errors.As(err, &certErr) && errors.As(certErr.Err, &werr) && werr.Status == wire.StatusInvalidCertificate {
		var chain []*x509.Certificate
		for _, der := range certErr.Chain {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				break
			}
			chain = append(chain, c)
		}
		info.verify = verifyCode(werr.Reason, chain)
		if werr.Reason == wire.ReasonPinMismatch {
			info.verify = 0
			return &failure{code: exitPinned, err: fmt.Errorf("SSL: public key does not match pinned public key: %v", err)}
		}
		return &failure{code: exitCertificate, err: fmt.Errorf("SSL certificate problem: %v", err),
			hint: certificateHint(werr.Reason)}
	}
	if isTimeout(err) {
		return &failure{code: exitTimeout, err: fmt.Errorf("TLS handshake timed out: %v", err)}
	}
	var offErr *tlsclient.OffloaderError
	if errors.As(err, &offErr) {
		hint := "is the offloader running at " + t.desc + "?"
		switch {
		case errors.Is(err, wire.StatusAuthFailed):
			hint = "the offloader refused this device: check --device-id and --psk-file against its config"
		case errors.Is(err, wire.StatusPolicyDenied):
			hint = "the offloader's policy for this device refuses this server name or these TLS parameters (the message says which)"
		case errors.Is(err, wire.StatusRateLimited):
			hint = "the offloader is busy or this device is over its rate: retry later"
			if d := hintedWait(err); d > 0 {
				hint += ", after " + d.String() + " as it asks (--retry N waits for it)"
			}
		case t.desc == "(embedded)":
			hint = ""
		}
		return &failure{code: exitTLS, err: fmt.Errorf("offloader %s: %w", t.desc, err), hint: hint}
	}
	return &failure{code: exitTLS, err: fmt.Errorf("TLS connect error: %v", err)}
}

// certificateHint says what to do about a certificate refusal. Only an
// unknown authority is cured by trusting another root; for the rest,
// --cacert would be a wrong lead.
func certificateHint(r wire.Reason) string {
	switch r {
	case wire.ReasonUnknownAuthority:
		return "the offloader does not trust this server's certificate; --cacert FILE trusts a private root"
	case wire.ReasonExpired, wire.ReasonNotYetValid:
		return "the server's certificate is outside its validity period (or a clock is wrong)"
	case wire.ReasonNameMismatch:
		return "the server's certificate does not name this host"
	case wire.ReasonRevoked:
		return "the server's certificate has been revoked by its issuer"
	case wire.ReasonRevocationUnknown:
		return "the device's policy requires revocation status and none could be had for this certificate"
	case wire.ReasonKeyUsage, wire.ReasonWeakKey, wire.ReasonWeakSignature, wire.ReasonNonConforming, wire.ReasonMalformed:
		return "the server's certificate breaks the device's verification profile; the server must fix it"
	}
	return ""
}

// verifyCode is OpenSSL's X509_V_ERR code for a refusal, as curl's
// %{ssl_verify_result} reports it.
func verifyCode(r wire.Reason, chain []*x509.Certificate) int64 {
	// OpenSSL builds the chain before any other check, so a self-signed
	// leaf that is not trusted is 18 whatever else is wrong with it, and
	// an untrusted self-signed root sent along is 19.
	if r != wire.ReasonNone && r != wire.ReasonPinMismatch && len(chain) > 0 {
		if selfSigned(chain[0]) {
			return 18 // self-signed certificate
		}
		if last := chain[len(chain)-1]; r == wire.ReasonUnknownAuthority && selfSigned(last) {
			return 19 // self-signed certificate in certificate chain
		}
	}
	switch r {
	case wire.ReasonExpired:
		return 10 // certificate has expired
	case wire.ReasonNotYetValid:
		return 9 // certificate is not yet valid
	case wire.ReasonUnknownAuthority:
		return 20 // unable to get local issuer certificate
	case wire.ReasonNameMismatch:
		return 62 // hostname mismatch
	case wire.ReasonKeyUsage:
		return 26 // unsuitable certificate purpose
	case wire.ReasonWeakKey:
		return 66 // EE certificate key too weak
	case wire.ReasonWeakSignature:
		return 68 // CA signature digest algorithm too weak
	case wire.ReasonRevoked:
		return 23 // certificate revoked
	case wire.ReasonNone, wire.ReasonPinMismatch:
		return 0
	}
	return 1 // unspecified
}

// selfSigned reports a certificate that names and signs itself.
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// pinOf is the digest --pinnedpubkey compares: SHA-256 of the key's
// SubjectPublicKeyInfo.
func pinOf(spki []byte) [sha256.Size]byte { return sha256.Sum256(spki) }
