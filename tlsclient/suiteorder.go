package tlsclient

import "github.com/tlsoffload/tlsoffload/handshake"

// AEADPreference says which AEAD a default suite list puts first. It
// matters only when Config.CipherSuites is nil: an explicit list is offered
// in its own order.
type AEADPreference uint8

const (
	// AEADAuto, the zero value, decides from the hardware: AES-GCM first
	// where Go runs AES and GHASH in hardware (AES and carry-less
	// multiply instructions, on a port with assembly for them),
	// ChaCha20-Poly1305 first elsewhere, where AES is table-based
	// software: slower than ChaCha20 and not constant-time.
	AEADAuto AEADPreference = iota
	// AEADPreferAESGCM puts the AES-GCM suites first whatever the CPU.
	AEADPreferAESGCM
	// AEADPreferChaCha20 puts the ChaCha20-Poly1305 suites first
	// whatever the CPU.
	AEADPreferChaCha20
)

// aesGCMHardware is the answer of hasAESGCMHardware for this process
// (suiteorder_hw.go, suiteorder_sw.go); a variable so that tests can give
// the other answer.
var aesGCMHardware = hasAESGCMHardware()

// defaultCipherSuites is the suite table's order (handshake.Suites), with
// the ChaCha20-Poly1305 suites moved before the AES-GCM ones when
// chachaFirst; the relative order of everything else is kept.
func defaultCipherSuites(chachaFirst bool) []uint16 {
	ids := make([]uint16, 0, len(handshake.Suites))
	if chachaFirst {
		for _, s := range handshake.Suites {
			if isChaCha20(s.ID) {
				ids = append(ids, s.ID)
			}
		}
	}
	for _, s := range handshake.Suites {
		if !chachaFirst || !isChaCha20(s.ID) {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

func isChaCha20(id uint16) bool {
	return id == handshake.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 ||
		id == handshake.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
}

// chachaFirst applies the preference to the hardware's answer.
func (p AEADPreference) chachaFirst(aesHardware bool) bool {
	switch p {
	case AEADPreferAESGCM:
		return false
	case AEADPreferChaCha20:
		return true
	}
	return !aesHardware
}
