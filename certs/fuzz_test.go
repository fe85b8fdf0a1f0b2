package certs_test

import (
	"errors"
	"testing"

	"github.com/tlsoffload/tlsoffload/certs"
	"github.com/tlsoffload/tlsoffload/certs/testpki"
)

// FuzzVerify feeds Verify arbitrary DER: it must never panic, and must
// answer either a chain or a *certs.Error.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	for _, d := range []testpki.Defect{testpki.Good, testpki.Expired, testpki.WrongName, testpki.SelfSigned, testpki.SHA1Signed} {
		for _, kt := range []testpki.KeyType{testpki.RSA2048, testpki.ECDSAP256} {
			l, err := fx.p.Issue([]string{"a.example", "192.0.2.1"}, kt, d)
			if err != nil {
				f.Fatal(err)
			}
			inter := []byte{}
			if len(l.Chain) > 1 {
				inter = l.Chain[1]
			}
			f.Add(l.Chain[0], inter, "a.example")
			f.Add(l.Chain[0][:len(l.Chain[0])/2], inter, "192.0.2.1")
		}
	}
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00}, []byte{}, "")
	v := fx.verifier()
	f.Fuzz(func(t *testing.T, leaf, inter []byte, name string) {
		chain := [][]byte{leaf}
		if len(inter) > 0 {
			chain = append(chain, inter)
		}
		verified, err := v.Verify(chain, name)
		if err == nil {
			if len(verified) == 0 {
				t.Fatal("accepted with an empty chain")
			}
			return
		}
		var ce *certs.Error
		if !errors.As(err, &ce) || ce.Reason == certs.ReasonNone {
			t.Fatalf("error %v is not a *certs.Error with a reason", err)
		}
		_ = err.Error()
	})
}
