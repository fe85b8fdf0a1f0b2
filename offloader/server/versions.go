package server

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/md5"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding"
	"fmt"
	"hash"
	"slices"

	"github.com/tlsoffload/tlsoffload/handshake"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

// Protocol versions (RFC 8996). The offloader implements TLS 1.0, 1.1 and
// 1.2, but TLS 1.0 and 1.1 are deprecated: a device gets them only when
// its registry entry lowers Device.MinVersion, and Device.MaxVersion can
// cap a device below TLS 1.2. Start answers the versions
// the device offered within its policy; Auth refuses a ServerHello whose
// version the policy does not allow, even if the device offered it (a
// device with a stale or hand-made ClientHello cannot get past the policy).
//
// What changes below TLS 1.2, here:
//   - the ServerKeyExchange signature has no algorithm field: RSA signs
//     MD5(params) || SHA-1(params) with PKCS #1 v1.5 and no DigestInfo
//     (RFC 2246 §7.4.3), ECDSA signs SHA-1(params) (RFC 4492 §5.4), where
//     params = client_random || server_random || ServerECDHParams;
//   - the PRF is MD5 ⊕ SHA-1 and the transcript hash MD5 || SHA-1
//     (handshake.Suite.MasterSecret and the others, Suite.TranscriptHash), the extended master
//     secret's session hash included (RFC 7627 §3);
//   - the CertificateRequest has no supported_signature_algorithms;
//   - only the CBC _SHA suites are allowed (handshake.Suite.AllowedIn).
//
// The RSA premaster starts with ClientHello.client_version in every
// version (RFC 5246 §7.4.7.1), which KeyGen already does.

// versionAllowed: what the offloader implements, whatever the device.
func versionAllowed(v uint16) bool {
	return v >= handshake.VersionTLS10 && v <= handshake.VersionTLS12
}

// minVersion is the device's lowest allowed version: TLS 1.2 unless the
// registry entry lowers it.
func (d *Device) minVersion() uint16 {
	if d.MinVersion == 0 {
		return handshake.VersionTLS12
	}
	return d.MinVersion
}

// maxVersion is the device's highest allowed version: TLS 1.2 unless the
// registry entry lowers it.
func (d *Device) maxVersion() uint16 {
	if d.MaxVersion == 0 {
		return handshake.VersionTLS12
	}
	return d.MaxVersion
}

// versionAllowed reports whether the device's policy allows version v.
func (d *Device) versionAllowed(v uint16) bool {
	return versionAllowed(v) && v >= d.minVersion() && v <= d.maxVersion()
}

// checkMinVersion checks Device.MinVersion (Device.Check), and
// Device.MaxVersion, which takes the same values.
func checkMinVersion(v uint16) error {
	switch v {
	case 0, handshake.VersionTLS10, handshake.VersionTLS11, handshake.VersionTLS12:
		return nil
	}
	return fmt.Errorf("%#04x is not TLS 1.0, 1.1 or 1.2", v)
}

// checkMaxVersion checks Device.MaxVersion: a version checkMinVersion
// accepts, not below the device's lowest.
func (d *Device) checkMaxVersion() error {
	if err := checkMinVersion(d.MaxVersion); err != nil {
		return err
	}
	if d.maxVersion() < d.minVersion() {
		return fmt.Errorf("%s is below the lowest version, %s", versionName(d.maxVersion()), versionName(d.minVersion()))
	}
	return nil
}

// versionName is "TLS 1.0", "TLS 1.1" or "TLS 1.2", or the code point.
func versionName(v uint16) string {
	switch v {
	case handshake.VersionTLS10:
		return "TLS 1.0"
	case handshake.VersionTLS11:
		return "TLS 1.1"
	case handshake.VersionTLS12:
		return "TLS 1.2"
	}
	return fmt.Sprintf("%#04x", v)
}

// versionDenied is the policy denial of version v: it names the range the
// device's policy allows.
func (d *Device) versionDenied(v uint16) *wire.Error {
	return opErr(wire.StatusPolicyDenied, fmt.Sprintf("protocol version %s not allowed for this device (it allows %s)", versionName(v), d.versionRange()))
}

// versionRange is the device's allowed versions in words.
func (d *Device) versionRange() string {
	if d.minVersion() == d.maxVersion() {
		return versionName(d.minVersion()) + " only"
	}
	return versionName(d.minVersion()) + " to " + versionName(d.maxVersion())
}

// checkVersion checks the ServerHello's version for Auth: one the
// offloader implements, within the device's policy, and not above what the
// ClientHello offered.
func checkVersion(dev *Device, ch *handshake.ClientHello, sh *handshake.ServerHello) *wire.Error {
	if !versionAllowed(sh.Version) {
		return opErr(wire.StatusUnsupported, fmt.Sprintf("server chose protocol version %#04x", sh.Version))
	}
	if !dev.versionAllowed(sh.Version) {
		return dev.versionDenied(sh.Version)
	}
	if ch.Version < sh.Version {
		return illegal("ServerHello version was not offered")
	}
	return nil
}

// checkSuiteVersion refuses a suite negotiated in a version it does not
// belong to (an AEAD or SHA-256/384 suite below TLS 1.2).
func checkSuiteVersion(suite *handshake.Suite, version uint16) *wire.Error {
	if !suite.AllowedIn(version) {
		return opErr(wire.StatusUnsupported, fmt.Sprintf("cipher suite %s not allowed in protocol version %#04x", suite.Name, version))
	}
	return nil
}

// checkECDHEVersion is checkECDHE for the negotiated version.
func checkECDHEVersion(version uint16, suite *handshake.Suite, ch *handshake.ClientHello, sh *handshake.ServerHello, leaf *x509.Certificate, p *handshake.ECDHEParams) *wire.Error {
	if version >= handshake.VersionTLS12 {
		return checkECDHE(suite, ch, sh, leaf, p)
	}
	return checkECDHE10(suite, ch, sh, leaf, p)
}

// checkECDHE10 checks TLS 1.0/1.1 ECDHE parameters: the group as in TLS
// 1.2, and the signature in the form the suite's key exchange fixes (RFC
// 4492 §5.4): ECDHE_RSA with PKCS #1 v1.5 over MD5 || SHA-1 (crypto.MD5SHA1:
// no DigestInfo, RFC 2246 §4.7), ECDHE_ECDSA with ECDSA over SHA-1.
func checkECDHE10(suite *handshake.Suite, ch *handshake.ClientHello, sh *handshake.ServerHello, leaf *x509.Certificate, p *handshake.ECDHEParams) *wire.Error {
	if !slices.Contains(ch.SupportedGroups, p.Group) {
		return illegal("server chose a group that was not offered")
	}
	if !groupAllowed(p.Group) {
		return opErr(wire.StatusUnsupported, "server chose an unsupported group")
	}
	bad := opErr(wire.StatusBadSignature, "ServerKeyExchange signature does not verify")
	switch suite.KeyExchange {
	case handshake.KeyExchangeECDHERSA:
		k, ok := leaf.PublicKey.(*rsa.PublicKey)
		if !ok {
			return &wire.Error{Status: wire.StatusInvalidCertificate, Reason: wire.ReasonKeyUsage, Detail: "ECDHE_RSA needs an RSA certificate"}
		}
		if rsa.VerifyPKCS1v15(k, crypto.MD5SHA1, signedDigest10(crypto.MD5SHA1, ch, sh, p), p.Signature) != nil {
			return bad
		}
	case handshake.KeyExchangeECDHEECDSA:
		k, ok := leaf.PublicKey.(*ecdsa.PublicKey)
		if !ok {
			return &wire.Error{Status: wire.StatusInvalidCertificate, Reason: wire.ReasonKeyUsage, Detail: "ECDHE_ECDSA needs an ECDSA certificate"}
		}
		if !ecdsa.VerifyASN1(k, signedDigest10(crypto.SHA1, ch, sh, p), p.Signature) {
			return bad
		}
	default:
		return opErr(wire.StatusUnsupported, "unsupported key exchange")
	}
	return nil
}

// signedDigest10 hashes client_random || server_random || ServerECDHParams
// with MD5 || SHA-1 or SHA-1.
func signedDigest10(h crypto.Hash, ch *handshake.ClientHello, sh *handshake.ServerHello, p *handshake.ECDHEParams) []byte {
	var hs []hash.Hash
	if h == crypto.MD5SHA1 {
		hs = []hash.Hash{md5.New(), sha1.New()}
	} else {
		hs = []hash.Hash{sha1.New()}
	}
	var out []byte
	for _, x := range hs {
		x.Write(ch.Random)
		x.Write(sh.Random)
		x.Write(p.SignedParams)
		out = x.Sum(out)
	}
	return out
}

// cloneTranscript copies the running transcript hash (any version's).
func cloneTranscript(h hash.Hash) (hash.Hash, error) {
	c, ok := h.(hash.Cloner)
	if !ok {
		return nil, fmt.Errorf("offloader: transcript hash cannot be cloned")
	}
	return c.Clone()
}

// restoreTranscript rebuilds the transcript hash of suite in version from
// its saved state (a token's).
func restoreTranscript(suite *handshake.Suite, version uint16, state []byte) (hash.Hash, error) {
	h := suite.TranscriptHash(version)
	u, ok := h.(encoding.BinaryUnmarshaler)
	if !ok {
		return nil, fmt.Errorf("offloader: transcript hash cannot be restored")
	}
	if err := u.UnmarshalBinary(state); err != nil {
		return nil, err
	}
	return h, nil
}
