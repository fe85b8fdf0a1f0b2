package server

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// A device's negotiation policy: the versions (MinVersion, MaxVersion:
// versions.go), the cipher suites (CipherSuites) and the key exchanges
// (KeyExchanges) it may negotiate. Start answers only what the policy
// allows, so a device's ClientHello offers no more; Auth, and KeyGen again,
// refuse a ServerHello outside it with StatusPolicyDenied, so a device that
// offers more than Start answered (a stale cache, a hand-made ClientHello)
// cannot get past it.
//
// The defaults are what the offloader allowed before these fields, with one
// exception: a device with a client certificate gets no RSA key exchange
// unless KeyExchanges lists it. With RSA key exchange the server learns the
// whole premaster, so a malicious server can carry it into a handshake of
// its own with another server and present the device's client
// authentication there (the triple handshake, RFC 7627 §1) when the
// extended master secret is not negotiated; and a recorded session that
// proves the device's identity is open to whoever later gets the server's
// key (no forward secrecy). ECDHE has neither problem.

// keyExchangeNames are the key exchanges' names in configuration.
var keyExchangeNames = map[handshake.KeyExchange]string{
	handshake.KeyExchangeECDHERSA:   "ecdhe_rsa",
	handshake.KeyExchangeECDHEECDSA: "ecdhe_ecdsa",
	handshake.KeyExchangeRSA:        "rsa",
}

// KeyExchangeName is a key exchange's configuration name ("ecdhe_rsa",
// "ecdhe_ecdsa", "rsa"), or "" for an unknown one.
func KeyExchangeName(kx handshake.KeyExchange) string { return keyExchangeNames[kx] }

// ParseKeyExchange is KeyExchangeName's inverse.
func ParseKeyExchange(name string) (handshake.KeyExchange, bool) {
	for kx, n := range keyExchangeNames {
		if n == name {
			return kx, true
		}
	}
	return 0, false
}

// checkCipherSuites checks Device.CipherSuites: suites the offloader
// implements, each once. It returns the index at fault.
func checkCipherSuites(ids []uint16) (int, error) {
	for i, id := range ids {
		if handshake.SuiteByID(id) == nil {
			return i, fmt.Errorf("%#04x is not a cipher suite the offloader implements", id)
		}
		if slices.Index(ids, id) != i {
			return i, fmt.Errorf("%s is listed twice", handshake.SuiteByID(id).Name)
		}
	}
	return 0, nil
}

// checkKeyExchanges checks Device.KeyExchanges, as checkCipherSuites.
func checkKeyExchanges(kxs []handshake.KeyExchange) (int, error) {
	for i, kx := range kxs {
		if KeyExchangeName(kx) == "" {
			return i, fmt.Errorf("%d is not a key exchange (want ecdhe_rsa, ecdhe_ecdsa or rsa)", kx)
		}
		if slices.Index(kxs, kx) != i {
			return i, fmt.Errorf("%s is listed twice", KeyExchangeName(kx))
		}
	}
	return 0, nil
}

// checkSuitesUsable checks that each of Device.CipherSuites can be
// negotiated under the rest of the device's policy: its key exchange
// allowed and a version in range it may be used in. A listed suite that
// never can is a mistake in the entry (most likely an RSA suite for a
// device with a client certificate), refused rather than silently dropped.
// It returns the index at fault.
func (d *Device) checkSuitesUsable() (int, error) {
	for i, id := range d.CipherSuites {
		s := handshake.SuiteByID(id)
		switch {
		case !d.keyExchangeAllowed(s.KeyExchange) && len(d.KeyExchanges) == 0:
			return i, fmt.Errorf("%s uses key exchange %s, which is off for a device with a client certificate unless its key exchanges list it", s.Name, KeyExchangeName(s.KeyExchange))
		case !d.keyExchangeAllowed(s.KeyExchange):
			return i, fmt.Errorf("%s uses key exchange %s, which the device's key exchanges do not list", s.Name, KeyExchangeName(s.KeyExchange))
		case !s.AllowedIn(d.maxVersion()):
			return i, fmt.Errorf("%s needs %s, above the device's highest version, %s", s.Name, versionName(s.MinVersion), versionName(d.maxVersion()))
		}
	}
	return 0, nil
}

// suitesDenied words Start's refusal when what the device offered is
// implemented by the offloader but not allowed by its policy.
func (d *Device) suitesDenied(offered []uint16) *wire.Error {
	var kxs []string
	for _, id := range offered {
		if s := handshake.SuiteByID(id); s != nil && !d.keyExchangeAllowed(s.KeyExchange) && !slices.Contains(kxs, KeyExchangeName(s.KeyExchange)) {
			kxs = append(kxs, KeyExchangeName(s.KeyExchange))
		}
	}
	detail := "no offered cipher suite is allowed for this device"
	if len(kxs) > 0 {
		detail += " (key exchange " + strings.Join(kxs, ", ") + " not allowed)"
	}
	return opErr(wire.StatusPolicyDenied, detail)
}

// keyExchangeAllowed reports whether the device's policy allows kx: the
// listed ones, or by default every one but RSA for a device with a client
// certificate.
func (d *Device) keyExchangeAllowed(kx handshake.KeyExchange) bool {
	if len(d.KeyExchanges) > 0 {
		return slices.Contains(d.KeyExchanges, kx)
	}
	return kx != handshake.KeyExchangeRSA || len(d.ClientCertificate) == 0
}

// suiteAllowed reports whether the device may negotiate the suite id: one
// the offloader implements, listed in CipherSuites (or any when empty),
// with a key exchange the device may use.
func (d *Device) suiteAllowed(id uint16) bool {
	s := handshake.SuiteByID(id)
	if s == nil || !suiteAllowed(id) {
		return false
	}
	if len(d.CipherSuites) > 0 && !slices.Contains(d.CipherSuites, id) {
		return false
	}
	return d.keyExchangeAllowed(s.KeyExchange)
}

// checkSuitePolicy refuses a negotiated suite outside the device's policy
// (Auth, and KeyGen again for a state carried in a token).
func checkSuitePolicy(dev *Device, suite *handshake.Suite) *wire.Error {
	if !dev.keyExchangeAllowed(suite.KeyExchange) {
		return opErr(wire.StatusPolicyDenied, fmt.Sprintf("key exchange %s (cipher suite %s) not allowed for this device", KeyExchangeName(suite.KeyExchange), suite.Name))
	}
	if !dev.suiteAllowed(suite.ID) {
		return opErr(wire.StatusPolicyDenied, fmt.Sprintf("cipher suite %s not allowed for this device", suite.Name))
	}
	return nil
}

// checkStatePolicy re-checks a token's state against the device's policy
// now: the state was authorized under the policy of its Auth, and a reload
// may have narrowed it since (KeyGen and Key of the sequential mode).
func checkStatePolicy(dev *Device, st *hsState) *wire.Error {
	if st.suite == nil {
		return nil
	}
	if !dev.versionAllowed(st.version) {
		return dev.versionDenied(st.version)
	}
	return checkSuitePolicy(dev, st.suite)
}
