package wire

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tlsoffload/tlsoffload/internal/cryptobyte"
)

// The codec of the two frame payloads (docs/PROTOCOL.md, "Flight" and
// "FlightResponse"). Every field is length-prefixed; each parser reads a
// length, checks it against its limit, and only then copies. Parsed byte
// slices never alias the input; empty lists and byte strings parse as nil.

// Payload kinds: the first byte of every sealed or plain frame's payload.
const (
	KindFlight         uint8 = 1
	KindFlightResponse uint8 = 2
)

// Fixed sizes of result bodies.
const masterSecretLen = 48

func malformed(op Op, detail string) *Error {
	return &Error{Op: op, Status: StatusMalformed, Detail: detail}
}

// FlightID returns the id of a flight payload whose header parses, so a
// server can answer a flight that is otherwise malformed under its id.
func FlightID(b []byte) (uint32, bool) {
	s := cryptobyte.String(b)
	var kind uint8
	var id uint32
	if !s.ReadUint8(&kind) || kind != KindFlight || !s.ReadUint32(&id) {
		return 0, false
	}
	return id, true
}

// ---- Flight ----

// Marshal encodes f, refusing what the peer's Unmarshal would refuse.
func (f *Flight) Marshal() ([]byte, error) { return f.MarshalTo(nil) }

// MarshalTo is Marshal encoding into buf's space, from its start, growing
// it when the flight does not fit: a caller that reuses buf allocates
// nothing per flight.
func (f *Flight) MarshalTo(buf []byte) ([]byte, error) {
	if len(f.Token) > MaxToken {
		return nil, malformed(0, "token too long")
	}
	if len(f.Requests) == 0 || len(f.Requests) > MaxRequests {
		return nil, malformed(0, "flight needs 1 to 4 requests")
	}
	for _, r := range f.Requests {
		if r == nil {
			return nil, malformed(0, "a request needs a body")
		}
		if err := r.checkRequest(); err != nil {
			return nil, err
		}
	}
	// Sized for the whole flight (the Auth transcript dominates), so the
	// builder does not grow through every power of two on the way.
	size := 64 + len(f.Token)
	for _, r := range f.Requests {
		size += 64
		if a, ok := r.(*AuthRequest); ok {
			size += len(a.Transcript) + len(a.ServerName)
		}
	}
	b := cryptobyte.NewBuilder(slices.Grow(buf[:0], size))
	b.AddUint8(KindFlight)
	b.AddUint32(f.ID)
	b.AddBytes(f.HandshakeID[:])
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(f.Token) })
	b.AddUint8(uint8(len(f.Requests)))
	for _, r := range f.Requests {
		b.AddUint8(uint8(r.Op()))
		b.AddUint24LengthPrefixed(r.marshalRequest)
	}
	return finish(b)
}

func finish(b *cryptobyte.Builder) ([]byte, error) {
	out, err := b.Bytes()
	if err != nil {
		return nil, malformed(0, "encoding: "+err.Error())
	}
	if len(out) > MaxFrame {
		return nil, malformed(0, "larger than a frame")
	}
	return out, nil
}

// Unmarshal decodes a Flight; f is unchanged on error.
func (f *Flight) Unmarshal(b []byte) error {
	if len(b) > MaxFrame {
		return malformed(0, "larger than a frame")
	}
	s := cryptobyte.String(b)
	var (
		kind, n uint8
		id      uint32
		hsID    []byte
		token   cryptobyte.String
	)
	if !s.ReadUint8(&kind) || kind != KindFlight {
		return malformed(0, "not a flight")
	}
	if !s.ReadUint32(&id) || !s.ReadBytes(&hsID, 16) ||
		!s.ReadUint16LengthPrefixed(&token) || !s.ReadUint8(&n) {
		return malformed(0, "truncated flight header")
	}
	if len(token) > MaxToken {
		return malformed(0, "token too long")
	}
	if n == 0 || n > MaxRequests {
		return malformed(0, "flight needs 1 to 4 requests")
	}
	reqs := make([]Request, n)
	for i := range reqs {
		var op uint8
		var body cryptobyte.String
		if !s.ReadUint8(&op) || !s.ReadUint24LengthPrefixed(&body) {
			return malformed(0, "truncated request")
		}
		r, err := unmarshalRequest(Op(op), body)
		if err != nil {
			return err
		}
		reqs[i] = r
	}
	if !s.Empty() {
		return malformed(0, "trailing bytes after flight")
	}
	*f = Flight{ID: id, Token: clone(token), Requests: reqs}
	copy(f.HandshakeID[:], hsID)
	return nil
}

// checkRequest validates a request as Marshal will send it; a nil
// pointer is a request without its body.

func (r *StartRequest) checkRequest() error {
	switch {
	case r == nil:
		return malformed(OpStart, "a request needs a body")
	case len(r.ServerName) > MaxServerName:
		return malformed(OpStart, "server name too long")
	}
	for _, l := range [][]uint16{r.Versions, r.CipherSuites, r.Groups, r.SignatureAlgorithms} {
		if len(l) > MaxListLen {
			return malformed(OpStart, "list too long")
		}
	}
	return nil
}

func (r *AuthRequest) checkRequest() error {
	switch {
	case r == nil:
		return malformed(OpAuth, "a request needs a body")
	case len(r.ServerName) > MaxServerName:
		return malformed(OpAuth, "server name too long")
	case len(r.Transcript) > MaxTranscript:
		return malformed(OpAuth, "transcript too long")
	}
	return nil
}

func (r *KeyGenRequest) checkRequest() error {
	if r == nil {
		return malformed(OpKeyGen, "a request needs a body")
	}
	return nil
}

func (r *KeyRequest) checkRequest() error {
	switch {
	case r == nil:
		return malformed(OpKey, "a request needs a body")
	case len(r.ClientMessages) > MaxTranscript:
		return malformed(OpKey, "client messages too long")
	}
	return nil
}

func (r *StartRequest) marshalRequest(b *cryptobyte.Builder) {
	addString8(b, r.ServerName)
	addList(b, r.Versions)
	addList(b, r.CipherSuites)
	addList(b, r.Groups)
	addList(b, r.SignatureAlgorithms)
}

func (r *AuthRequest) marshalRequest(b *cryptobyte.Builder) {
	addString8(b, r.ServerName)
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.Transcript) })
}

func (r *KeyGenRequest) marshalRequest(b *cryptobyte.Builder) {} // empty body

func (r *KeyRequest) marshalRequest(b *cryptobyte.Builder) {
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.ClientMessages) })
}

// unmarshalRequest parses the body of a request of op, all of s.
func unmarshalRequest(op Op, s cryptobyte.String) (Request, error) {
	var r Request
	switch op {
	case OpStart:
		var sr StartRequest
		if !readString8(&s, &sr.ServerName) ||
			!readList(&s, &sr.Versions) || !readList(&s, &sr.CipherSuites) ||
			!readList(&s, &sr.Groups) || !readList(&s, &sr.SignatureAlgorithms) {
			return nil, malformed(op, "bad start request")
		}
		r = &sr
	case OpAuth:
		var ar AuthRequest
		if !readString8(&s, &ar.ServerName) || !readBytes24(&s, &ar.Transcript, MaxTranscript) {
			return nil, malformed(op, "bad auth request")
		}
		r = &ar
	case OpKeyGen:
		r = &KeyGenRequest{}
	case OpKey:
		var kr KeyRequest
		if !readBytes24(&s, &kr.ClientMessages, MaxTranscript) {
			return nil, malformed(op, "bad key request")
		}
		r = &kr
	default:
		return nil, malformed(op, "unknown op")
	}
	if !s.Empty() {
		return nil, malformed(op, "trailing bytes in request")
	}
	return r, nil
}

// ---- FlightResponse ----

// Marshal encodes r, refusing what the peer's Unmarshal would refuse.
func (r *FlightResponse) Marshal() ([]byte, error) {
	if len(r.Token) > MaxToken {
		return nil, malformed(0, "token too long")
	}
	if len(r.Results) == 0 || len(r.Results) > MaxRequests {
		return nil, malformed(0, "response needs 1 to 4 results")
	}
	for i := range r.Results {
		if err := r.Results[i].check(); err != nil {
			return nil, err
		}
	}
	// Sized for the whole response (an Auth's verified chain dominates),
	// as Flight.Marshal is.
	size := 64 + len(r.Token)
	for _, res := range r.Results {
		size += 64
		if res.Err != nil {
			size += len(res.Err.Detail) + len(retryAfterPrefix) + 16
		} else {
			size += res.Body.wireSize()
		}
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, size))
	b.AddUint8(KindFlightResponse)
	b.AddUint32(r.ID)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.Token) })
	b.AddUint8(uint8(len(r.Results)))
	for i := range r.Results {
		res := &r.Results[i]
		b.AddUint8(uint8(res.Op()))
		if res.Err != nil {
			b.AddUint8(uint8(res.Err.Status))
			b.AddUint8(uint8(res.Err.Reason))
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(res.Err.wireDetail())) })
			b.AddUint24(0) // a failed result carries no body
			continue
		}
		b.AddUint8(uint8(StatusOK))
		b.AddUint8(uint8(ReasonNone))
		b.AddUint16(0)
		b.AddUint24LengthPrefixed(res.Body.marshalResponse)
	}
	return finish(b)
}

// Unmarshal decodes a FlightResponse; r is unchanged on error.
func (r *FlightResponse) Unmarshal(b []byte) error {
	if len(b) > MaxFrame {
		return malformed(0, "larger than a frame")
	}
	s := cryptobyte.String(b)
	var (
		kind, n uint8
		id      uint32
		token   cryptobyte.String
	)
	if !s.ReadUint8(&kind) || kind != KindFlightResponse {
		return malformed(0, "not a flight response")
	}
	if !s.ReadUint32(&id) || !s.ReadUint16LengthPrefixed(&token) || !s.ReadUint8(&n) {
		return malformed(0, "truncated response header")
	}
	if len(token) > MaxToken {
		return malformed(0, "token too long")
	}
	if n == 0 || n > MaxRequests {
		return malformed(0, "response needs 1 to 4 results")
	}
	results := make([]Result, n)
	for i := range results {
		if err := results[i].unmarshal(&s); err != nil {
			return err
		}
	}
	if !s.Empty() {
		return malformed(0, "trailing bytes after response")
	}
	*r = FlightResponse{ID: id, Token: clone(token), Results: results}
	return nil
}

// check validates a result as Marshal will send it. A failed result carries
// no body; its op may be 0 when the failure is the flight's as a whole (a
// flight that did not parse).
func (r *Result) check() error {
	if e := r.Err; e != nil {
		op := e.Op
		switch {
		case op > OpKey:
			return malformed(op, "unknown op")
		case r.Body != nil:
			return malformed(op, "a failed result carries no body")
		case e.Status == StatusOK || !e.Status.known():
			return malformed(op, "bad status in failed result")
		case !e.Reason.known():
			return malformed(op, "unknown reason")
		case e.Reason != ReasonNone && e.Status != StatusInvalidCertificate:
			return malformed(op, "reason without invalid certificate status")
		case e.RetryAfter != 0 && e.Status != StatusRateLimited:
			return malformed(op, "retry-after hint without rate limited status")
		case e.RetryAfter < 0 || e.RetryAfter > MaxRetryAfter || e.RetryAfter%time.Millisecond != 0:
			return malformed(op, "retry-after hint out of range")
		case e.RetryAfter == 0 && e.Status == StatusRateLimited && strings.HasPrefix(e.Detail, retryAfterPrefix):
			return malformed(op, "detail would read as a retry-after hint")
		case len(e.wireDetail()) > MaxDetail:
			return malformed(op, "detail too long")
		case !utf8.ValidString(e.Detail):
			return malformed(op, "detail is not UTF-8")
		}
		return nil
	}
	if r.Body == nil {
		return malformed(0, "a result needs a body or an error")
	}
	return r.Body.checkResponse()
}

// checkResponse validates a successful result's body; a nil pointer is a
// result without its body.

func (r *StartResponse) checkResponse() error {
	if r == nil {
		return malformed(OpStart, "a result needs a body or an error")
	}
	for _, l := range [][]uint16{r.Versions, r.CipherSuites, r.Groups, r.SignatureAlgorithms} {
		if len(l) > MaxListLen {
			return malformed(OpStart, "list too long")
		}
	}
	if r.TTL < 0 || r.TTL/time.Second > math.MaxUint32 {
		return malformed(OpStart, "ttl out of range")
	}
	return nil
}

func (r *AuthResponse) checkResponse() error {
	if r == nil {
		return malformed(OpAuth, "a result needs a body or an error")
	}
	c := r.VerifiedChain
	if len(c) == 0 || len(c) > MaxChainCerts {
		return malformed(OpAuth, "chain needs 1 to 10 certificates")
	}
	if n := len(r.Presented); n != 0 && n != len(c) {
		return malformed(OpAuth, "chain references do not match the chain")
	}
	total := 0
	for i, cert := range c {
		switch j := r.presentedAt(i); {
		case j >= MaxChainCerts || j < -1:
			return malformed(OpAuth, "chain reference out of range")
		case j >= 0:
			total += 2
		case len(cert) == 0 || len(cert) > 1<<24-1:
			return malformed(OpAuth, "bad certificate length")
		default:
			total += 4 + len(cert)
		}
	}
	if total > 1<<24-1 {
		return malformed(OpAuth, "chain too long")
	}
	return nil
}

func (r *KeyGenResponse) checkResponse() error {
	if r == nil {
		return malformed(OpKeyGen, "a result needs a body or an error")
	}
	if l := len(r.ClientKeyExchange); l == 0 || l > math.MaxUint16 {
		return malformed(OpKeyGen, "bad client key exchange length")
	}
	if d := checkClientAuth(r.ClientCertificate, r.CertificateVerify); d != "" {
		return malformed(OpKeyGen, d)
	}
	return nil
}

func (r *KeyResponse) checkResponse() error {
	switch {
	case r == nil:
		return malformed(OpKey, "a result needs a body or an error")
	case len(r.MasterSecret) != masterSecretLen:
		return malformed(OpKey, "master secret is not 48 bytes")
	}
	if l := len(r.KeyBlock); l == 0 || l > math.MaxUint16 {
		return malformed(OpKey, "bad key block length")
	}
	return nil
}

func (r *StartResponse) marshalResponse(b *cryptobyte.Builder) {
	addList(b, r.Versions)
	addList(b, r.CipherSuites)
	addList(b, r.Groups)
	addList(b, r.SignatureAlgorithms)
	b.AddUint32(uint32(r.TTL / time.Second))
}

func (r *AuthResponse) marshalResponse(b *cryptobyte.Builder) {
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) {
		for i, cert := range r.VerifiedChain {
			if j := r.presentedAt(i); j >= 0 {
				b.AddUint8(chainTagPresented)
				b.AddUint8(uint8(j))
				continue
			}
			b.AddUint8(chainTagDER)
			b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(cert) })
		}
	})
}

func (r *KeyGenResponse) marshalResponse(b *cryptobyte.Builder) {
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.ClientKeyExchange) })
	if len(r.ClientCertificate) > 0 {
		b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.ClientCertificate) })
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.CertificateVerify) })
	}
}

func (r *KeyResponse) marshalResponse(b *cryptobyte.Builder) {
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.MasterSecret) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(r.KeyBlock) })
}

func (r *StartResponse) wireSize() int { return 0 } // within the 64 bytes per result

func (r *AuthResponse) wireSize() int {
	n := 0
	for _, c := range r.VerifiedChain {
		n += 3 + len(c)
	}
	return n
}

func (r *KeyGenResponse) wireSize() int {
	return len(r.ClientKeyExchange) + len(r.ClientCertificate) + len(r.CertificateVerify)
}

func (r *KeyResponse) wireSize() int { return len(r.MasterSecret) + len(r.KeyBlock) }

func (r *Result) unmarshal(s *cryptobyte.String) error {
	var (
		op, status, reason uint8
		detail, body       cryptobyte.String
	)
	if !s.ReadUint8(&op) || !s.ReadUint8(&status) || !s.ReadUint8(&reason) ||
		!s.ReadUint16LengthPrefixed(&detail) || !s.ReadUint24LengthPrefixed(&body) {
		return malformed(0, "truncated result")
	}
	o := Op(op)
	*r = Result{}
	if o > OpKey || (o == 0 && status == uint8(StatusOK)) {
		return malformed(o, "unknown op")
	}
	if status != uint8(StatusOK) {
		st, rs := Status(status), Reason(reason)
		switch {
		case !st.known():
			return malformed(o, "unknown status")
		case !rs.known():
			return malformed(o, "unknown reason")
		case rs != ReasonNone && st != StatusInvalidCertificate:
			return malformed(o, "reason without invalid certificate status")
		case len(detail) > MaxDetail:
			return malformed(o, "detail too long")
		case !utf8.Valid(detail):
			return malformed(o, "detail is not UTF-8")
		case !body.Empty():
			return malformed(o, "a failed result carries no body")
		}
		e := &Error{Op: o, Status: st, Reason: rs, Detail: string(detail)}
		if st == StatusRateLimited && strings.HasPrefix(e.Detail, retryAfterPrefix) {
			var ok bool
			if e.RetryAfter, e.Detail, ok = parseRetryAfter(e.Detail); !ok {
				return malformed(o, "bad retry-after hint")
			}
		}
		r.Err = e
		return nil
	}
	if reason != uint8(ReasonNone) || !detail.Empty() {
		return malformed(o, "reason or detail in a successful result")
	}
	switch o {
	case OpStart:
		var sr StartResponse
		var ttl uint32
		if !readList(&body, &sr.Versions) || !readList(&body, &sr.CipherSuites) ||
			!readList(&body, &sr.Groups) || !readList(&body, &sr.SignatureAlgorithms) ||
			!body.ReadUint32(&ttl) {
			return malformed(o, "bad start response")
		}
		sr.TTL = time.Duration(ttl) * time.Second
		r.Body = &sr
	case OpAuth:
		var chain cryptobyte.String
		if !body.ReadUint24LengthPrefixed(&chain) {
			return malformed(o, "bad auth response")
		}
		var certs [][]byte
		var refs []int // allocated at the first reference
		for !chain.Empty() {
			if len(certs) == MaxChainCerts {
				return malformed(o, "chain too long")
			}
			var tag, idx uint8
			var cert cryptobyte.String
			if !chain.ReadUint8(&tag) {
				return malformed(o, "bad certificate in chain")
			}
			switch tag {
			case chainTagPresented:
				if !chain.ReadUint8(&idx) || idx >= MaxChainCerts {
					return malformed(o, "bad certificate reference in chain")
				}
				if refs == nil {
					refs = make([]int, len(certs), MaxChainCerts)
					for i := range refs {
						refs[i] = -1
					}
				}
				refs = append(refs, int(idx))
				certs = append(certs, nil)
			case chainTagDER:
				if !chain.ReadUint24LengthPrefixed(&cert) || cert.Empty() {
					return malformed(o, "bad certificate in chain")
				}
				if refs != nil {
					refs = append(refs, -1)
				}
				certs = append(certs, clone(cert))
			default:
				return malformed(o, "unknown chain element")
			}
		}
		if len(certs) == 0 {
			return malformed(o, "empty chain")
		}
		r.Body = &AuthResponse{VerifiedChain: certs, Presented: refs}
	case OpKeyGen:
		var cke cryptobyte.String
		if !body.ReadUint16LengthPrefixed(&cke) || cke.Empty() {
			return malformed(o, "bad keygen response")
		}
		kg := &KeyGenResponse{ClientKeyExchange: clone(cke)}
		if !body.Empty() {
			// The answer to a CertificateRequest (§8.1): present only
			// when one was asked for, so a certificate is never empty.
			var cert, cv cryptobyte.String
			if !body.ReadUint24LengthPrefixed(&cert) || cert.Empty() ||
				!body.ReadUint16LengthPrefixed(&cv) {
				return malformed(o, "bad keygen response")
			}
			if d := checkClientAuth(cert, cv); d != "" {
				return malformed(o, d)
			}
			kg.ClientCertificate, kg.CertificateVerify = clone(cert), clone(cv)
		}
		r.Body = kg
	case OpKey:
		var ms, kb cryptobyte.String
		if !body.ReadUint8LengthPrefixed(&ms) || len(ms) != masterSecretLen ||
			!body.ReadUint16LengthPrefixed(&kb) || kb.Empty() {
			return malformed(o, "bad key response")
		}
		r.Body = &KeyResponse{MasterSecret: clone(ms), KeyBlock: clone(kb)}
	}
	if !body.Empty() {
		return malformed(o, "trailing bytes in result")
	}
	return nil
}

// checkClientAuth checks the answer to a CertificateRequest a KeyGen
// response carries, as far as framing goes (the device parses the
// messages themselves): a Certificate message (type 11) or nothing, then a
// CertificateVerify message (type 15) only after a Certificate, each a
// whole handshake message whose header length is its body's, within its
// limit. It returns what is wrong, or "".
func checkClientAuth(cert, cv []byte) string {
	switch {
	case len(cert) == 0 && len(cv) != 0:
		return "certificate verify without a client certificate"
	case len(cert) == 0:
		return ""
	case len(cert) > MaxClientCertificate || !wholeMessage(cert, 11):
		return "bad client certificate message"
	case len(cv) != 0 && (len(cv) > MaxCertificateVerify || !wholeMessage(cv, 15)):
		return "bad certificate verify message"
	case len(cv) != 0 && len(cert) == 7: // 0b 000003 000000: no certificate
		return "certificate verify after an empty certificate"
	}
	return ""
}

// wholeMessage reports whether m is one handshake message of type typ:
// type u8 | length u24 | body[length], nothing after.
func wholeMessage(m []byte, typ uint8) bool {
	s := cryptobyte.String(m)
	var t uint8
	var body cryptobyte.String
	return s.ReadUint8(&t) && t == typ && s.ReadUint24LengthPrefixed(&body) && s.Empty()
}

// ---- the retry-after hint (docs/PROTOCOL.md §8.3) ----

// retryAfterPrefix begins the detail of a rate-limited result that carries
// a retry-after hint: "retry after <ms>ms", then "; " and the rest of the
// detail, if any. Text, so that a device that predates the hint parses the
// result as before and shows the hint in its error message.
const retryAfterPrefix = "retry after "

func retryAfterText(d time.Duration) string {
	return retryAfterPrefix + strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
}

// wireDetail is the detail as it travels: the hint, if any, then Detail.
func (e *Error) wireDetail() string {
	if e.RetryAfter <= 0 {
		return e.Detail
	}
	if e.Detail == "" {
		return retryAfterText(e.RetryAfter)
	}
	return retryAfterText(e.RetryAfter) + "; " + e.Detail
}

// parseRetryAfter splits a detail that begins with retryAfterPrefix into
// the hint and the rest, accepting only what wireDetail writes: 1 to
// MaxRetryAfter whole milliseconds in decimal without leading zeros, then
// the end or "; " and a non-empty rest.
func parseRetryAfter(detail string) (time.Duration, string, bool) {
	s := detail[len(retryAfterPrefix):]
	digits, rest, ok := strings.Cut(s, "ms")
	if !ok || digits == "" || digits[0] == '0' || len(digits) > 8 {
		return 0, "", false
	}
	var ms int64
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return 0, "", false
		}
		ms = ms*10 + int64(c-'0')
	}
	d := time.Duration(ms) * time.Millisecond
	if d > MaxRetryAfter {
		return 0, "", false
	}
	if rest == "" {
		return d, "", true
	}
	rest, ok = strings.CutPrefix(rest, "; ")
	if !ok || rest == "" {
		return 0, "", false
	}
	return d, rest, true
}

// ---- field helpers ----

func addString8(b *cryptobyte.Builder, s string) {
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(s)) })
}

func readString8(s *cryptobyte.String, out *string) bool {
	var v cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&v) { // at most 255 = MaxServerName
		return false
	}
	*out = string(v)
	return true
}

// A list is a u8 byte length (even, at most 2*MaxListLen) then u16 entries.
func addList(b *cryptobyte.Builder, l []uint16) {
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) {
		for _, v := range l {
			b.AddUint16(v)
		}
	})
}

func readList(s *cryptobyte.String, out *[]uint16) bool {
	var v cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&v) || len(v)%2 != 0 || len(v) > 2*MaxListLen {
		return false
	}
	if v.Empty() {
		*out = nil
		return true
	}
	l := make([]uint16, 0, len(v)/2)
	for !v.Empty() {
		var x uint16
		v.ReadUint16(&x)
		l = append(l, x)
	}
	*out = l
	return true
}

func readBytes24(s *cryptobyte.String, out *[]byte, limit int) bool {
	var v cryptobyte.String
	if !s.ReadUint24LengthPrefixed(&v) || len(v) > limit {
		return false
	}
	*out = clone(v)
	return true
}

// clone copies b out of the input; empty becomes nil.
func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
