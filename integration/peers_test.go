package integration

// The matrix's peers as processes: openssl s_server, gnutls-serv and nginx,
// each started from one peerOpts (version, certificate, suites, session
// resumption mode, client-certificate requirement). See matrix_test.go.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/internal/peers"
)

// resumeMode is how a peer keeps sessions.
type resumeMode int

const (
	resumeDefault resumeMode = iota // the peer's defaults
	resumeIDs                       // session ids only: tickets off
	resumeTickets                   // tickets only: the session-id cache off
)

// peerOpts is one server configuration.
type peerOpts struct {
	version *matrixVersion
	leaf    *testpki.Leaf
	// suites are the suites the server enables; the client narrows each
	// connection to one of them.
	suites []*matrixSuite
	resume resumeMode
	// clientCA, when set, makes the server require a client certificate
	// issued under it (PEM).
	clientCA []byte
	// keyUsageViolations makes a server that checks its own certificate's
	// keyUsage (gnutls-serv) serve it for any suite.
	keyUsageViolations bool
}

// matrixPeer is one kind of real server.
type matrixPeer struct {
	name string
	bin  string // the binary requirePeer looks for
	// start runs a server for o and returns it once it accepts.
	start func(t *testing.T, o peerOpts) *peers.Server
	// paths are fetched over one connection; the last is the page report
	// reads.
	paths []string
	// report reads the server's own account of a connection from the page:
	// the version and suite in the peer's names and whether it resumed.
	report func(page string) (version, suite string, reused bool, err error)
	// mflOversize: the peer accepts max_fragment_length and then writes
	// records larger than it (gnutls-serv 3.7 --http does).
	mflOversize bool
	// would is why the peer will not do a suite at a version, or "" (no
	// peer refuses one today; see matrix_test.go).
	would func(s *matrixSuite, v *matrixVersion) string
}

// writeServerFiles writes the leaf's chain and key, and the client CA if
// any, into a fresh directory.
func writeServerFiles(t *testing.T, o peerOpts) (dir, chainFile, keyFile, caFile string) {
	t.Helper()
	dir = t.TempDir()
	chainFile, keyFile, err := o.leaf.WriteFiles(dir, "server")
	if err != nil {
		t.Fatal(err)
	}
	if o.clientCA != nil {
		caFile = filepath.Join(dir, "client-ca.pem")
		if err := os.WriteFile(caFile, o.clientCA, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, chainFile, keyFile, caFile
}

// opensslCiphers is a -cipher / ssl_ciphers string for the suites at
// security level 0, which OpenSSL 3 needs for TLS 1.0/1.1 (MD5+SHA-1), SHA-1
// signatures and RSA-1024.
func opensslCiphers(suites []*matrixSuite) string {
	names := make([]string, 0, len(suites)+1)
	for _, s := range suites {
		names = append(names, s.openssl)
	}
	if len(names) == 0 {
		names = append(names, "ALL")
	}
	return strings.Join(names, ":") + ":@SECLEVEL=0"
}

// OpenSSL s_server -www: one connection at a time, a page naming the
// protocol and suite and "New" or "Reused".
var opensslPeer = &matrixPeer{
	name:  "openssl",
	bin:   "openssl",
	paths: []string{"/"},
	start: func(t *testing.T, o peerOpts) *peers.Server {
		args := []string{"-www", "-cipher", opensslCiphers(o.suites)}
		if o.version.opensslFlag != "" {
			args = append(args, o.version.opensslFlag)
		}
		switch o.resume {
		case resumeIDs:
			args = append(args, "-no_ticket")
		case resumeTickets:
			args = append(args, "-no_cache")
		}
		if o.clientCA != nil {
			dir := t.TempDir()
			caFile := filepath.Join(dir, "client-ca.pem")
			if err := os.WriteFile(caFile, o.clientCA, 0o644); err != nil {
				t.Fatal(err)
			}
			args = append(args, "-Verify", "4", "-verify_return_error", "-CAfile", caFile)
		}
		return peers.StartOpenSSL(t, peers.OpenSSL{Leaf: o.leaf, Args: args})
	},
	report: func(page string) (string, string, bool, error) {
		// "New, TLSv1.0, Cipher is X" names the version that introduced
		// the suite, not the one negotiated: that is the session's
		// "Protocol  : TLSv1.1".
		m := regexp.MustCompile(`(New|Reused), \S+, Cipher is (\S+)`).FindStringSubmatch(page)
		v := regexp.MustCompile(`(?m)^\s*Protocol\s*:\s*(\S+)`).FindStringSubmatch(page)
		if m == nil || v == nil {
			return "", "", false, fmt.Errorf("openssl page names no protocol and cipher: %.300q", page)
		}
		return v[1], m[2], m[1] == "Reused", nil
	},
	would: func(*matrixSuite, *matrixVersion) string { return "" },
}

// gnutls-serv --http: serves many connections, reports the protocol and
// suite on its page and a resumed session in its log.
var gnutlsPeer = &matrixPeer{
	name:        "gnutls",
	bin:         "gnutls-serv",
	paths:       []string{"/"},
	mflOversize: true,
	start: func(t *testing.T, o peerOpts) *peers.Server {
		_, chainFile, keyFile, caFile := writeServerFiles(t, o)
		// Every suite the matrix knows, at the one version; the client
		// narrows each connection to one suite.
		prio := "NORMAL:+RSA:+AES-128-CBC:+AES-256-CBC:+SHA1:+SHA256:+SHA384:-VERS-ALL:+" + o.version.gnutls +
			":%VERIFY_ALLOW_SIGN_WITH_SHA1"
		if o.keyUsageViolations {
			prio += ":%DEBUG_ALLOW_KEY_USAGE_VIOLATIONS"
		}
		args := []string{"--http", "--x509certfile", chainFile, "--x509keyfile", keyFile, "--priority", prio}
		switch o.resume {
		case resumeIDs:
			args = append(args, "--noticket")
		case resumeTickets:
			args = append(args, "--nodb")
		}
		if caFile != "" {
			args = append(args, "--require-client-cert", "--verify-client-cert", "--x509cafile", caFile)
		} else {
			args = append(args, "--disable-client-cert")
		}
		return peers.StartGnuTLS(t, args...)
	},
	report: func(page string) (string, string, bool, error) {
		text := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(page, " ")
		v := regexp.MustCompile(`Protocol version:\s*(\S+)`).FindStringSubmatch(text)
		s := regexp.MustCompile(`Ciphersuite\s+(\S+)`).FindStringSubmatch(text)
		if v == nil || s == nil {
			return "", "", false, fmt.Errorf("gnutls page names no protocol and suite: %.300q", text)
		}
		// Resumption is in the log, not on the page: see gnutlsResumed.
		return v[1], s[1], false, nil
	},
	would: func(*matrixSuite, *matrixVersion) string { return "" },
}

// gnutlsResumedMarker is the line gnutls-serv logs for each resumed session.
const gnutlsResumedMarker = "*** This is a resumed session"

// nginx serving files, storing PUT ones under /up/, and /info reporting
// the connection from nginx's own variables.
var nginxPeer = &matrixPeer{
	name: "nginx",
	bin:  "nginx",
	// The device uploads a file and reads it back (bulk data both ways),
	// reads the served file, then the report.
	paths: []string{"PUT /up/echo.bin", "/up/echo.bin", "/blob.bin", "/info"},
	start: func(t *testing.T, o peerOpts) *peers.Server {
		srv, _ := startNginxMatrix(t, o)
		return srv
	},
	report: func(page string) (string, string, bool, error) {
		f := strings.Split(strings.TrimSpace(page), "|")
		if len(f) != 6 {
			return "", "", false, fmt.Errorf("nginx /info: %q", page)
		}
		return f[0], f[1], f[2] == "r", nil
	},
	would: func(*matrixSuite, *matrixVersion) string { return "" },
}

// nginxBlob is the file every nginx cell fetches and compares byte for byte.
var nginxBlob = func() []byte {
	b := make([]byte, 200_000+17)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}()

// startNginxMatrix runs nginx for o, serving nginxBlob as /blob.bin and the
// connection's parameters as /info; it returns the server and its root
// directory (for more files).
func startNginxMatrix(t *testing.T, o peerOpts) (*peers.Server, string) {
	t.Helper()
	dir, chainFile, keyFile, caFile := writeServerFiles(t, o)
	www := filepath.Join(dir, "www")
	os.Mkdir(www, 0o755)
	if err := os.WriteFile(filepath.Join(www, "blob.bin"), nginxBlob, 0o644); err != nil {
		t.Fatal(err)
	}
	var session string
	switch o.resume {
	case resumeIDs:
		session = "ssl_session_cache shared:SSL:1m; ssl_session_tickets off;"
	case resumeTickets:
		session = "ssl_session_cache off; ssl_session_tickets on;"
	default:
		session = "ssl_session_cache shared:SSL:1m; ssl_session_tickets on;"
	}
	var clientAuth string
	if caFile != "" {
		clientAuth = fmt.Sprintf("ssl_verify_client on; ssl_verify_depth 4; ssl_client_certificate %s;", caFile)
	}
	srv := peers.StartNginx(t, dir, "types { application/octet-stream bin; text/plain txt; }",
		fmt.Sprintf(`ssl_certificate %[1]s;
    ssl_certificate_key %[2]s;
    ssl_protocols %[4]s;
    ssl_ciphers %[5]s;
    %[6]s
    %[7]s
    root %[3]s;
    location /up/ {
      dav_methods PUT;
      create_full_put_path on;
      client_max_body_size 1m;
    }
    location = /info {
      default_type text/plain;
      return 200 "$ssl_protocol|$ssl_cipher|$ssl_session_reused|$ssl_client_verify|$ssl_client_s_dn|$ssl_curve\n";
    }`, chainFile, keyFile, www, o.version.nginx, opensslCiphers(o.suites), session, clientAuth))
	return srv, www
}
