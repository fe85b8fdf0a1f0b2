package record

import "strconv"

// AlertLevel values (RFC 5246 §7.2).
const (
	alertLevelWarning = 1
	alertLevelFatal   = 2
)

// Alert is a TLS alert description (RFC 5246 §7.2). It implements error so a
// handshake step can return the alert it wants sent.
type Alert uint8

const (
	AlertCloseNotify            Alert = 0
	AlertUnexpectedMessage      Alert = 10
	AlertBadRecordMAC           Alert = 20
	AlertRecordOverflow         Alert = 22
	AlertHandshakeFailure       Alert = 40
	AlertBadCertificate         Alert = 42
	AlertUnsupportedCertificate Alert = 43
	AlertCertificateRevoked     Alert = 44
	AlertCertificateExpired     Alert = 45
	AlertCertificateUnknown     Alert = 46
	AlertIllegalParameter       Alert = 47
	AlertUnknownCA              Alert = 48
	AlertAccessDenied           Alert = 49
	AlertDecodeError            Alert = 50
	AlertDecryptError           Alert = 51
	AlertProtocolVersion        Alert = 70
	AlertInsufficientSecurity   Alert = 71
	AlertInternalError          Alert = 80
	AlertInappropriateFallback  Alert = 86
	AlertUserCanceled           Alert = 90
	AlertNoRenegotiation        Alert = 100
	AlertUnsupportedExtension   Alert = 110
	AlertUnrecognizedName       Alert = 112
	// AlertBadCertificateStatusResponse: the stapled OCSP response is not
	// satisfactory (RFC 6066 §8).
	AlertBadCertificateStatusResponse Alert = 113
	AlertNoApplicationProtocol        Alert = 120
)

// Error returns "tls: " and the alert's RFC name in words, e.g.
// "tls: bad record MAC".
func (a Alert) Error() string {
	if int(a) < len(alertNames) && alertNames[a] != "" {
		return "tls: " + alertNames[a]
	}
	return "tls: alert(" + strconv.Itoa(int(a)) + ")"
}

// alertNames are the descriptions of RFC 5246 §7.2 and later RFCs, in
// words, indexed by alert: an array is static data, where a map literal
// is built by an init function (2.3 KB of code on linux/arm) in every
// program that links the record layer.
var alertNames = [...]string{
	AlertCloseNotify:                  "close notify",
	AlertUnexpectedMessage:            "unexpected message",
	AlertBadRecordMAC:                 "bad record MAC",
	AlertRecordOverflow:               "record overflow",
	AlertHandshakeFailure:             "handshake failure",
	AlertBadCertificate:               "bad certificate",
	AlertUnsupportedCertificate:       "unsupported certificate",
	AlertCertificateRevoked:           "revoked certificate",
	AlertCertificateExpired:           "expired certificate",
	AlertCertificateUnknown:           "unknown certificate",
	AlertIllegalParameter:             "illegal parameter",
	AlertUnknownCA:                    "unknown certificate authority",
	AlertAccessDenied:                 "access denied",
	AlertDecodeError:                  "error decoding message",
	AlertDecryptError:                 "error decrypting message",
	AlertProtocolVersion:              "protocol version not supported",
	AlertInsufficientSecurity:         "insufficient security level",
	AlertInternalError:                "internal error",
	AlertInappropriateFallback:        "inappropriate fallback",
	AlertUserCanceled:                 "user canceled",
	AlertNoRenegotiation:              "no renegotiation",
	AlertUnsupportedExtension:         "unsupported extension",
	AlertUnrecognizedName:             "unrecognized name",
	AlertBadCertificateStatusResponse: "bad certificate status response",
	AlertNoApplicationProtocol:        "no application protocol",
}

// AlertError is an alert that ended (or, for a warning, interrupted) the
// connection: received from the peer (Remote) or sent to it.
type AlertError struct {
	Alert   Alert
	Remote  bool // received from the peer, not sent by us
	Warning bool // a warning-level alert (only no_renegotiation reaches callers)
}

// Error reads "record: remote error: tls: bad certificate" or
// "record: local error: tls: bad record MAC".
// A warning reads "record: remote warning: tls: no renegotiation".
func (e *AlertError) Error() string {
	side := "local"
	if e.Remote {
		side = "remote"
	}
	kind := " error: "
	if e.Warning {
		kind = " warning: "
	}
	return "record: " + side + kind + e.Alert.Error()
}

// Unwrap returns the Alert, so errors.Is(err, record.AlertBadRecordMAC) works.
func (e *AlertError) Unwrap() error { return e.Alert }
