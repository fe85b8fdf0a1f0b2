package server

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/tlsoffload/tlsoffload/certs/testpki"
	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

func TestRegistryAddValidates(t *testing.T) {
	r := NewRegistry()
	psk := bytes.Repeat([]byte{1}, wire.MinPSKLen)
	bad := []struct {
		d     Device
		field string
		index int
		want  string
	}{
		{Device{ID: "", PSK: psk}, "ID", 0, "missing"},
		{Device{ID: strings.Repeat("a", wire.MaxDeviceID+1), PSK: psk}, "ID", 0, "longer than 64 bytes"},
		{Device{ID: "has space", PSK: psk}, "ID", 0, `"has space": only printable ASCII without spaces`},
		{Device{ID: "tab\t", PSK: psk}, "ID", 0, "only printable ASCII"},
		{Device{ID: "caf\xc3\xa9", PSK: psk}, "ID", 0, "only printable ASCII"},
		{Device{ID: "short-psk", PSK: psk[:wire.MinPSKLen-1]}, "PSK", 0, "must be 16 to 64 bytes, got 15"},
		{Device{ID: "long-psk", PSK: bytes.Repeat([]byte{1}, wire.MaxPSKLen+1)}, "PSK", 0, "got 65"},
		{Device{ID: "no-psk"}, "PSK", 0, "got 0"},
		{Device{ID: "p", PSK: psk, AllowedNames: []string{"a.com", "a*.b.com"}}, "AllowedNames", 1, `"a*.b.com": a wildcard must be the whole first label`},
		{Device{ID: "p", PSK: psk, AllowedNames: []string{""}}, "AllowedNames", 0, `"" is not a name pattern`},
		{Device{ID: "p", PSK: psk, AllowedNames: []string{"*."}}, "AllowedNames", 0, `"*." is not a name pattern`},
		{Device{ID: "p", PSK: psk, AllowedNames: []string{"*", "a..b"}}, "AllowedNames", 1, `"a..b" has an empty label`},
		{Device{ID: "p", PSK: psk, AllowedNames: []string{"a b.com"}}, "AllowedNames", 0, `"a b.com": ' ' is not allowed in a DNS name`},
		{Device{ID: "p", PSK: psk, AllowedNames: []string{strings.Repeat("a", wire.MaxServerName+1)}}, "AllowedNames", 0, "is not a name pattern"},
		{Device{ID: "p", PSK: psk, ClientKey: testLeaf(t, testpki.ECDSAP256, testpki.Good).Key}, "ClientCertificate", 0, "empty chain"},
	}
	for _, c := range bad {
		err := r.Add(c.d)
		var de *DeviceError
		if !errors.Is(err, ErrInvalidDevice) || !errors.As(err, &de) {
			t.Errorf("Add(%q, %d-byte PSK) = %v", c.d.ID, len(c.d.PSK), err)
			continue
		}
		if de.Field != c.field || de.Index != c.index || de.ID != c.d.ID || !strings.Contains(de.Err.Error(), c.want) {
			t.Errorf("Add(%q): %s[%d] %q, want %s[%d] %q", c.d.ID, de.Field, de.Index, de.Err, c.field, c.index, c.want)
		}
		if strings.Contains(err.Error(), string(psk)) || strings.Contains(err.Error(), "0101") {
			t.Errorf("error names the PSK: %v", err)
		}
		if err2 := c.d.Check(); err2 == nil || err2.Error() != err.Error() {
			t.Errorf("Check says %v, Add %v", err2, err)
		}
	}
	if r.size() != 0 {
		t.Fatalf("%d devices after refused adds", r.size())
	}
	good := []Device{
		{ID: "a", PSK: psk},
		{ID: strings.Repeat("z", wire.MaxDeviceID), PSK: bytes.Repeat([]byte{2}, wire.MaxPSKLen)},
		{ID: "sensor-42.floor_3~!", PSK: psk, AllowedNames: []string{"*", "*.example.com", "api.example.com.", "x_y-z.test"}},
	}
	for _, d := range good {
		if err := d.Check(); err != nil {
			t.Errorf("Check(%q): %v", d.ID, err)
		}
		if err := r.Add(d); err != nil {
			t.Errorf("Add(%q): %v", d.ID, err)
		}
	}
}

func TestRegistryCopiesAndRevokes(t *testing.T) {
	r := NewRegistry()
	psk := bytes.Repeat([]byte{7}, 32)
	names := []string{"a.example.com"}
	if err := r.Add(Device{ID: "d", PSK: psk, AllowedNames: names}); err != nil {
		t.Fatal(err)
	}
	psk[0], names[0] = 0, "*" // the caller's slices are not the registry's
	d, ok := r.lookup("d")
	if !ok || d.PSK[0] != 7 || d.AllowedNames[0] != "a.example.com" {
		t.Fatalf("lookup: %v %+v", ok, d)
	}
	d.PSK[0], d.AllowedNames[0] = 0, "*" // nor are the copies it hands out
	if d2, _ := r.lookup("d"); d2.PSK[0] != 7 || d2.AllowedNames[0] != "a.example.com" {
		t.Fatal("a lookup copy changed the registry")
	}
	// Add with the same id rotates the PSK.
	if err := r.Add(Device{ID: "d", PSK: bytes.Repeat([]byte{9}, 32)}); err != nil {
		t.Fatal(err)
	}
	if d, _ := r.lookup("d"); d.PSK[0] != 9 {
		t.Fatal("Add did not replace the device")
	}
	r.Remove("d")
	r.Remove("never-there")
	if _, ok := r.lookup("d"); ok {
		t.Fatal("removed device still found")
	}
}

func TestRegistryConcurrent(t *testing.T) {
	r := NewRegistry()
	psk := bytes.Repeat([]byte{7}, 32)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				_ = r.Add(Device{ID: "d", PSK: psk})
				if d, ok := r.lookup("d"); ok && len(d.PSK) != 32 {
					t.Error("torn device")
				}
				r.Remove("d")
			}
		}()
	}
	wg.Wait()
}
