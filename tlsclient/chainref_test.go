package tlsclient

import (
	"context"
	"errors"
	"testing"

	"github.com/tlsoffload/tlsoffload/offloader/wire"
	"github.com/tlsoffload/tlsoffload/record"
)

// refOffloader answers Auth with chain references of its own choosing.
type refOffloader struct {
	*fakeOffloader
	auth *wire.AuthResponse
}

func (r *refOffloader) Do(ctx context.Context, fl *wire.Flight) (*wire.FlightResponse, error) {
	resp, err := r.fakeOffloader.Do(ctx, fl)
	if err == nil {
		for i := range resp.Results {
			if resp.Results[i].Auth != nil {
				resp.Results[i].Auth = r.auth
			}
		}
	}
	return resp, err
}

// The device resolves the Auth answer's references against the chain the
// server sent it, and refuses one to a certificate it was not sent.
func TestScriptedChainReferences(t *testing.T) {
	for _, tc := range []struct {
		name string
		ref  int
		ok   bool
	}{
		{"leaf", 0, true},
		{"beyond the presented chain", 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			off := &refOffloader{fakeOffloader: &fakeOffloader{},
				auth: &wire.AuthResponse{VerifiedChain: [][]byte{nil, {0x30}}, Presented: []int{tc.ref, -1}}}
			cfg := &Config{Offloader: off, ServerName: testServerName, StartCache: NewStartCache(1)}
			if _, err := cfg.start(context.Background(), testServerName); err != nil {
				t.Fatal(err)
			}
			c, done := runScript(t, cfg, func(p *scriptPeer) error {
				if err := p.readClientHello(); err != nil {
					return err
				}
				if err := p.sendServerHello(p.defaultServerHello()); err != nil {
					return err
				}
				p.send(serverFlight()...)
				if tc.ok {
					return nil
				}
				return p.expectAlert()
			})
			err := c.Handshake()
			serr := <-done
			if tc.ok {
				if got := off.auth.VerifiedChain[0]; len(got) == 0 {
					t.Errorf("reference to the leaf not resolved (handshake: %v)", err)
				}
				return
			}
			var oe *OffloaderError
			if !errors.As(err, &oe) || oe.Op != "auth" || !errors.Is(err, wire.StatusMalformed) {
				t.Errorf("err = %v, want *OffloaderError for auth, malformed", err)
			}
			var ae *record.AlertError
			if !errors.As(serr, &ae) || ae.Alert != record.AlertInternalError {
				t.Errorf("server got %v, want internal_error", serr)
			}
		})
	}
}
