package tlsclient

import (
	"context"
	"time"
)

// Internals the package's external tests (package tlsclient_test, which
// may import offloader/client and so the real offloader) read or set.

// SessionKey is the session cache key a handshake with cfg uses; it asks
// the offloader's Start as the handshake does.
func SessionKey(ctx context.Context, cfg *Config) (string, error) { return sessionKeyFor(ctx, cfg) }

func sessionKeyFor(ctx context.Context, cfg *Config) (string, error) {
	p, err := cfg.start(ctx, cfg.ServerName)
	if err != nil {
		return "", err
	}
	hs := &clientHandshakeState{config: cfg, serverName: cfg.ServerName, params: p}
	return hs.sessionKey(), nil
}

// EMS reports whether the session's master secret is the extended one;
// SetEMS changes it, to play a session that disagrees with the server.
func (s *ClientSession) EMS() bool          { return s.ems }
func (s *ClientSession) SetEMS(ems bool)    { s.ems = ems }
func (s *ClientSession) Ticket() []byte     { return s.ticket }
func (s *ClientSession) Master() []byte     { return s.master }
func (s *ClientSession) Created() time.Time { return s.created }

// RecordingConn keeps a copy of every byte read through it (fuzz seeds).
type RecordingConn = recordingConn

// SetAESGCMHardware gives the default suite order the hardware answer v
// until the test ends.
func SetAESGCMHardware(t interface{ Cleanup(func()) }, v bool) {
	old := aesGCMHardware
	aesGCMHardware = v
	t.Cleanup(func() { aesGCMHardware = old })
}
