//go:build !(amd64 || arm64 || s390x || ppc64 || ppc64le)

package tlsclient

// hasAESGCMHardware is false on the ports where Go's AES and GHASH are
// generic software (32-bit ARM, 386, MIPS, RISC-V, ...), even on a core
// with AES instructions such as an ARMv8 core running 32-bit code: Go does
// not use them there, so ChaCha20-Poly1305 is the faster and constant-time
// choice.
func hasAESGCMHardware() bool { return false }
