package tlsclient

import (
	"errors"
	"testing"

	"github.com/tlsoffload/tlsoffload/record"
)

// An illegal parameter the offloader finds in the server's handshake is the
// server's fault: the device sends illegal_parameter and returns a
// *ProtocolError that reaches both the alert and the offloader's verdict,
// never an *OffloaderError.
func TestScriptedOffloaderIllegalParameter(t *testing.T) {
	verdict := &Refusal{Fault: FaultIllegalParameter, Err: errors.New("offloader: auth: server chose a group that was not offered")}
	cfg := &Config{Offloader: &scriptOffloader{err: verdict}, ServerName: testServerName}
	c, done := runScript(t, cfg, func(p *scriptPeer) error {
		if err := p.readClientHello(); err != nil {
			return err
		}
		if err := p.sendServerHello(p.defaultServerHello()); err != nil {
			return err
		}
		p.send(serverFlight()...)
		return p.expectAlert()
	})
	err := c.Handshake()
	var ae *record.AlertError
	if serr := <-done; !errors.As(serr, &ae) || ae.Alert != record.AlertIllegalParameter {
		t.Errorf("server got %v, want illegal_parameter", serr)
	}
	var pe *ProtocolError
	if !errors.As(err, &pe) || !errors.Is(err, record.AlertIllegalParameter) {
		t.Errorf("err = %v (%T), want *ProtocolError with illegal_parameter", err, err)
	}
	var oe *OffloaderError
	if errors.As(err, &oe) {
		t.Errorf("err = %v is an *OffloaderError: the offloader is not at fault", err)
	}
	var got *Refusal
	if !errors.As(err, &got) || got != verdict {
		t.Errorf("the offloader's verdict is not reachable from %v", err)
	}
}
