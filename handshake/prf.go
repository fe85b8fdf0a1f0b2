package handshake

// PRF12 fills out with the TLS 1.2 PRF of RFC 5246 §5 over the suite's hash:
// P_hash(secret, label || seed).
func (s *Suite) PRF12(out, secret []byte, label string, seed []byte) { panic("TODO") }

// MasterSecret derives the 48-byte master secret of RFC 5246 §8.1.
func (s *Suite) MasterSecret(premaster, clientRandom, serverRandom []byte) []byte { panic("TODO") }

// ExtendedMasterSecret derives the master secret of RFC 7627 §4 from the
// session hash (the transcript hash through ClientKeyExchange).
func (s *Suite) ExtendedMasterSecret(premaster, sessionHash []byte) []byte { panic("TODO") }

// KeyBlock expands the master secret into the key block of RFC 5246 §6.3
// (note the seed order: server_random || client_random).
func (s *Suite) KeyBlock(master, clientRandom, serverRandom []byte) []byte { panic("TODO") }

// FinishedVerifyData is the 12-byte verify_data of RFC 5246 §7.4.9 for the
// client ("client finished") or the server ("server finished") over the
// transcript hash.
func (s *Suite) FinishedVerifyData(master []byte, client bool, transcriptHash []byte) []byte {
	panic("TODO")
}

// Transcript is the running handshake hash. It buffers messages until the
// suite (and so the hash) is known, then hashes as it goes; Sum never
// disturbs the running state.
type Transcript struct {
	// TODO: fields
}

// Write adds one whole handshake message (header included) to the transcript.
func (t *Transcript) Write(msg []byte) { panic("TODO") }

// SetSuite fixes the hash; buffered messages are hashed and dropped.
func (t *Transcript) SetSuite(s *Suite) { panic("TODO") }

// Sum returns the hash of everything written so far.
func (t *Transcript) Sum() []byte { panic("TODO") }
