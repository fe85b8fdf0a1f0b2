//go:build amd64 || arm64 || s390x || ppc64 || ppc64le

package tlsclient

import (
	"runtime"

	"golang.org/x/sys/cpu"
)

// hasAESGCMHardware reports whether Go's AES-GCM runs on AES and
// carry-less multiply instructions on this CPU, as golang.org/x/sys/cpu
// reports them. This file is built only for the ports where Go has
// assembly for both; elsewhere (suiteorder_sw.go) the answer is no without
// asking, so a 32-bit ARM or MIPS device does not link x/sys/cpu (about
// 20 KB there).
func hasAESGCMHardware() bool {
	switch runtime.GOARCH {
	case "amd64":
		return cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ
	case "arm64":
		return cpu.ARM64.HasAES && cpu.ARM64.HasPMULL
	case "s390x":
		return cpu.S390X.HasAES && cpu.S390X.HasAESGCM
	case "ppc64", "ppc64le":
		return cpu.PPC64.IsPOWER8 // vcipher and vpmsumd are ISA 2.07
	}
	return false
}
