package server

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
)

func TestRegistryAddValidates(t *testing.T) {
	r := NewRegistry()
	psk := bytes.Repeat([]byte{1}, wire.MinPSKLen)
	bad := []Device{
		{ID: "", PSK: psk},
		{ID: strings.Repeat("a", wire.MaxDeviceID+1), PSK: psk},
		{ID: "has space", PSK: psk},
		{ID: "tab\t", PSK: psk},
		{ID: "caf\xc3\xa9", PSK: psk},
		{ID: "short-psk", PSK: psk[:wire.MinPSKLen-1]},
		{ID: "long-psk", PSK: bytes.Repeat([]byte{1}, wire.MaxPSKLen+1)},
		{ID: "no-psk"},
	}
	for _, d := range bad {
		if err := r.Add(d); !errors.Is(err, ErrInvalidDevice) {
			t.Errorf("Add(%q, %d-byte PSK) = %v", d.ID, len(d.PSK), err)
		} else if strings.Contains(err.Error(), string(psk)) {
			t.Errorf("error names the PSK: %v", err)
		}
	}
	if r.Len() != 0 {
		t.Fatalf("%d devices after refused adds", r.Len())
	}
	good := []Device{
		{ID: "a", PSK: psk},
		{ID: strings.Repeat("z", wire.MaxDeviceID), PSK: bytes.Repeat([]byte{2}, wire.MaxPSKLen)},
		{ID: "sensor-42.floor_3~!", PSK: psk},
	}
	for _, d := range good {
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
	d, ok := r.Lookup("d")
	if !ok || d.PSK[0] != 7 || d.AllowedNames[0] != "a.example.com" {
		t.Fatalf("Lookup: %v %+v", ok, d)
	}
	d.PSK[0], d.AllowedNames[0] = 0, "*" // nor are the copies it hands out
	if d2, _ := r.Lookup("d"); d2.PSK[0] != 7 || d2.AllowedNames[0] != "a.example.com" {
		t.Fatal("a Lookup copy changed the registry")
	}
	// Add with the same id rotates the PSK.
	if err := r.Add(Device{ID: "d", PSK: bytes.Repeat([]byte{9}, 32)}); err != nil {
		t.Fatal(err)
	}
	if d, _ := r.Lookup("d"); d.PSK[0] != 9 {
		t.Fatal("Add did not replace the device")
	}
	r.Remove("d")
	r.Remove("never-there")
	if _, ok := r.Lookup("d"); ok {
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
				if d, ok := r.Lookup("d"); ok && len(d.PSK) != 32 {
					t.Error("torn device")
				}
				r.Remove("d")
			}
		}()
	}
	wg.Wait()
}
