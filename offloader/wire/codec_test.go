package wire

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 1)
	}
	return b
}

func list(n int) []uint16 {
	l := make([]uint16, n)
	for i := range l {
		l[i] = uint16(0x1301 + i)
	}
	return l
}

// sampleFlights covers every request kind, alone and pipelined.
func sampleFlights() []*Flight {
	hs := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	return []*Flight{
		{ID: 1, HandshakeID: hs, Requests: []Request{&StartRequest{
			ServerName: "example.com", Versions: []uint16{0x0303, 0x0302},
			CipherSuites: []uint16{0xc02f, 0xcca8}, Groups: []uint16{29, 23},
			SignatureAlgorithms: []uint16{0x0804, 0x0403},
		}}},
		{ID: 2, HandshakeID: hs, Requests: []Request{&StartRequest{}}},
		{ID: 0xfffffffe, HandshakeID: hs, Requests: []Request{
			&AuthRequest{ServerName: "a.example", Transcript: seq(300)},
			&KeyGenRequest{},
			&KeyRequest{ClientMessages: seq(10)},
		}},
		{ID: 3, HandshakeID: hs, Token: seq(MaxToken), Requests: []Request{&KeyRequest{}}},
		{ID: 4, Token: seq(5), Requests: []Request{&KeyGenRequest{}}},
		{ID: 5, Requests: []Request{
			&StartRequest{ServerName: strings.Repeat("n", MaxServerName), Versions: list(MaxListLen),
				CipherSuites: list(MaxListLen), Groups: list(MaxListLen), SignatureAlgorithms: list(MaxListLen)},
			&AuthRequest{ServerName: strings.Repeat("n", MaxServerName), Transcript: seq(MaxTranscript / 2)},
			&KeyGenRequest{},
			&KeyRequest{ClientMessages: seq(MaxTranscript / 2)},
		}},
	}
}

func sampleResponses() []*FlightResponse {
	return []*FlightResponse{
		{ID: 1, Results: []Result{{Body: &StartResponse{
			Versions: []uint16{0x0303}, CipherSuites: []uint16{0xc02f}, Groups: []uint16{29},
			SignatureAlgorithms: []uint16{0x0804}, TTL: 300 * time.Second,
		}}}},
		{ID: 2, Results: []Result{{Body: &StartResponse{}}}},
		{ID: 3, Token: seq(40), Results: []Result{
			{Body: &AuthResponse{VerifiedChain: [][]byte{seq(900), seq(700), seq(1)}}},
			{Body: &KeyGenResponse{ClientKeyExchange: seq(33)}},
			{Body: &KeyResponse{MasterSecret: seq(48), KeyBlock: seq(104)}},
		}},
		{ID: 4, Results: []Result{
			{Err: &Error{Op: OpAuth, Status: StatusInvalidCertificate, Reason: ReasonExpired, Detail: "leaf expired 2020-01-01"}},
			{Err: &Error{Op: OpKeyGen, Status: StatusAborted}},
			{Err: &Error{Op: OpKey, Status: StatusAborted}},
		}},
		{ID: 5, Results: []Result{{Err: &Error{Op: 0, Status: StatusMalformed, Detail: strings.Repeat("d", MaxDetail)}}}},
		{ID: 6, Token: seq(MaxToken), Results: []Result{{Body: &AuthResponse{VerifiedChain: make10()}}}},
		// The device's usual answer: leaf and intermediate by reference, the root as DER.
		{ID: 10, Results: []Result{{Body: &AuthResponse{VerifiedChain: [][]byte{nil, nil, seq(500)}, Presented: []int{0, 1, -1}}}}},
		{ID: 11, Results: []Result{{Body: &AuthResponse{VerifiedChain: [][]byte{seq(40), nil}, Presented: []int{-1, 9}}}}},
		{ID: 7, Results: []Result{{Body: &StartResponse{Versions: list(MaxListLen), TTL: (1<<32 - 1) * time.Second}}}},
		{ID: 8, Results: []Result{{Body: &KeyGenResponse{ClientKeyExchange: seq(33),
			ClientCertificate: hsMsg(11, seq(600)), CertificateVerify: hsMsg(15, seq(260))}}}},
		{ID: 9, Results: []Result{{Body: &KeyGenResponse{ClientKeyExchange: seq(33),
			ClientCertificate: hsMsg(11, []byte{0, 0, 0})}}}},
		// Rate limited with a retry-after hint, alone and before a detail.
		{ID: 14, Results: []Result{
			{Err: &Error{Op: OpAuth, Status: StatusRateLimited, RetryAfter: 2 * time.Second}},
			{Err: &Error{Op: OpKeyGen, Status: StatusRateLimited, RetryAfter: MaxRetryAfter, Detail: "busy"}},
		}},
		// The reasons added for the verification profiles and revocation.
		{ID: 12, Results: []Result{{Err: &Error{Op: OpAuth, Status: StatusInvalidCertificate, Reason: ReasonNonConforming,
			Detail: `leaf "a.example": no authority key identifier`}}}},
		{ID: 13, Results: []Result{{Err: &Error{Op: OpAuth, Status: StatusInvalidCertificate, Reason: ReasonRevocationUnknown,
			Detail: `leaf "a.example": stapled OCSP response stale since 2020-01-01T00:00:00Z`}}}},
	}
}

func make10() [][]byte {
	c := make([][]byte, MaxChainCerts)
	for i := range c {
		c[i] = seq(100 + i)
	}
	return c
}

// normalize turns empty slices into nil, as Unmarshal produces them.
func normalize(v any) any {
	switch x := v.(type) {
	case *Flight:
		c := *x
		c.Token = nz(c.Token)
		c.Requests = append([]Request(nil), c.Requests...)
		for i, r := range c.Requests {
			switch r := r.(type) {
			case *StartRequest:
				s := *r
				s.Versions, s.CipherSuites, s.Groups, s.SignatureAlgorithms = nzl(s.Versions), nzl(s.CipherSuites), nzl(s.Groups), nzl(s.SignatureAlgorithms)
				c.Requests[i] = &s
			case *KeyRequest:
				c.Requests[i] = &KeyRequest{ClientMessages: nz(r.ClientMessages)}
			}
		}
		return &c
	case *FlightResponse:
		c := *x
		c.Token = nz(c.Token)
		c.Results = append([]Result(nil), c.Results...)
		for i := range c.Results {
			if r, ok := c.Results[i].Body.(*StartResponse); ok {
				s := *r
				s.Versions, s.CipherSuites, s.Groups, s.SignatureAlgorithms = nzl(s.Versions), nzl(s.CipherSuites), nzl(s.Groups), nzl(s.SignatureAlgorithms)
				c.Results[i].Body = &s
			}
		}
		return &c
	}
	return v
}

func nz(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func nzl(b []uint16) []uint16 {
	if len(b) == 0 {
		return nil
	}
	return b
}

func TestFlightRoundTrip(t *testing.T) {
	for i, f := range sampleFlights() {
		b, err := f.Marshal()
		if err != nil {
			t.Fatalf("flight %d: Marshal: %v", i, err)
		}
		var g Flight
		if err := g.Unmarshal(b); err != nil {
			t.Fatalf("flight %d: Unmarshal: %v", i, err)
		}
		if !reflect.DeepEqual(normalize(f), &g) {
			t.Errorf("flight %d: round trip:\n got %+v\nwant %+v", i, &g, f)
		}
		// The parse does not alias its input.
		clear(b)
		if !reflect.DeepEqual(normalize(f), &g) {
			t.Errorf("flight %d: parsed flight aliases the input", i)
		}
	}
}

func TestFlightResponseRoundTrip(t *testing.T) {
	for i, r := range sampleResponses() {
		b, err := r.Marshal()
		if err != nil {
			t.Fatalf("response %d: Marshal: %v", i, err)
		}
		var g FlightResponse
		if err := g.Unmarshal(b); err != nil {
			t.Fatalf("response %d: Unmarshal: %v", i, err)
		}
		if !reflect.DeepEqual(normalize(r), &g) {
			t.Errorf("response %d: round trip:\n got %+v\nwant %+v", i, &g, r)
		}
		clear(b)
		if !reflect.DeepEqual(normalize(r), &g) {
			t.Errorf("response %d: parsed response aliases the input", i)
		}
	}
}

// Every strict prefix and every extension by a byte is refused.
func TestPrefixesAndTrailingBytes(t *testing.T) {
	var all [][]byte
	var isFlight []bool
	for _, f := range sampleFlights()[:5] {
		b, err := f.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		all, isFlight = append(all, b), append(isFlight, true)
	}
	for _, r := range sampleResponses()[:5] {
		b, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		all, isFlight = append(all, b), append(isFlight, false)
	}
	for i, b := range all {
		parse := func(b []byte) error {
			if isFlight[i] {
				return new(Flight).Unmarshal(b)
			}
			return new(FlightResponse).Unmarshal(b)
		}
		for n := 0; n < len(b); n++ {
			if err := parse(b[:n]); !errors.Is(err, StatusMalformed) {
				t.Fatalf("message %d: prefix of %d/%d bytes: err = %v, want malformed", i, n, len(b), err)
			}
		}
		if err := parse(append(bytes.Clone(b), 0)); !errors.Is(err, StatusMalformed) {
			t.Fatalf("message %d: trailing byte accepted: %v", i, err)
		}
	}
}

func mustMarshalFlight(t *testing.T, f *Flight) []byte {
	t.Helper()
	b, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Unmarshal refuses each limit exceeded by one; the bytes are built by hand
// since Marshal refuses them too.
func TestFlightLimits(t *testing.T) {
	over := map[string]*Flight{
		"token":       {Token: seq(MaxToken + 1), Requests: []Request{&KeyGenRequest{}}},
		"no requests": {},
		"requests":    {Requests: make([]Request, MaxRequests+1)},
		"server name": {Requests: []Request{&StartRequest{ServerName: strings.Repeat("n", MaxServerName+1)}}},
		"list":        {Requests: []Request{&StartRequest{Groups: list(MaxListLen + 1)}}},
		"transcript":  {Requests: []Request{&AuthRequest{Transcript: seq(MaxTranscript + 1)}}},
		"client msgs": {Requests: []Request{&KeyRequest{ClientMessages: seq(MaxTranscript + 1)}}},
		"auth name":   {Requests: []Request{&AuthRequest{ServerName: strings.Repeat("n", MaxServerName+1)}}},
		// A request's op is its type, so a body cannot be missing, doubled or
		// for another op; only a nil one can be passed.
		"no request":   {Requests: []Request{&KeyGenRequest{}, nil}},
		"no body":      {Requests: []Request{(*KeyRequest)(nil)}},
		"frame budget": {Requests: []Request{&AuthRequest{Transcript: seq(MaxTranscript)}, &KeyRequest{ClientMessages: seq(MaxTranscript)}}},
	}
	for name, f := range over {
		if _, err := f.Marshal(); !errors.Is(err, StatusMalformed) {
			t.Errorf("%s: Marshal err = %v, want malformed", name, err)
		}
	}

	// Hand-built bytes for the parser: header then requests.
	hdr := func(token []byte, n byte) []byte {
		b := []byte{KindFlight, 0, 0, 0, 1}
		b = append(b, make([]byte, 16)...)
		b = append(b, byte(len(token)>>8), byte(len(token)))
		b = append(b, token...)
		return append(b, n)
	}
	req := func(op Op, body []byte) []byte {
		return append([]byte{byte(op), byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}, body...)
	}
	u24 := func(b []byte) []byte {
		return append([]byte{byte(len(b) >> 16), byte(len(b) >> 8), byte(len(b))}, b...)
	}
	keygen := req(OpKeyGen, nil)
	lst := func(n int) []byte { return append([]byte{byte(2 * n)}, make([]byte, 2*n)...) }
	start := func(l []byte) []byte {
		body := []byte{0}
		body = append(body, l...)
		body = append(body, 0, 0, 0)
		return req(OpStart, body)
	}
	good := append(hdr(seq(MaxToken), 1), keygen...)
	if err := new(Flight).Unmarshal(good); err != nil {
		t.Fatalf("hand-built flight refused: %v", err)
	}
	bad := map[string][]byte{
		"token":         append(hdr(seq(MaxToken+1), 1), keygen...),
		"zero requests": hdr(nil, 0),
		"requests":      append(hdr(nil, 5), bytes.Repeat(keygen, 5)...),
		"list":          append(hdr(nil, 1), start(lst(MaxListLen+1))...),
		"odd list":      append(hdr(nil, 1), start([]byte{3, 0, 0, 0})...),
		"transcript":    append(hdr(nil, 1), req(OpAuth, append([]byte{0}, u24(seq(MaxTranscript+1))...))...),
		"client msgs":   append(hdr(nil, 1), req(OpKey, u24(seq(MaxTranscript+1)))...),
		"keygen body":   append(hdr(nil, 1), req(OpKeyGen, []byte{0})...),
		"key trailing":  append(hdr(nil, 1), req(OpKey, append(u24(nil), 0))...),
		"unknown op":    append(hdr(nil, 1), req(0, nil)...),
		"op 5":          append(hdr(nil, 1), req(5, nil)...),
		"kind":          append([]byte{KindFlightResponse}, good[1:]...),
		"too large":     append(good, make([]byte, MaxFrame)...),
	}
	if err := new(Flight).Unmarshal(append(hdr(nil, 1), start(lst(MaxListLen))...)); err != nil {
		t.Fatalf("list of MaxListLen refused: %v", err)
	}
	for name, b := range bad {
		err := new(Flight).Unmarshal(b)
		var e *Error
		if !errors.As(err, &e) || e.Status != StatusMalformed {
			t.Errorf("%s: Unmarshal err = %v, want *Error malformed", name, err)
		}
	}
}

func TestFlightResponseLimits(t *testing.T) {
	over := map[string]*FlightResponse{
		"token":              {Token: seq(MaxToken + 1), Results: []Result{{Body: &KeyGenResponse{ClientKeyExchange: seq(3)}}}},
		"no results":         {},
		"results":            {Results: make([]Result, MaxRequests+1)},
		"chain":              {Results: []Result{{Body: &AuthResponse{VerifiedChain: append(make10(), seq(5))}}}},
		"empty chain":        {Results: []Result{{Body: &AuthResponse{}}}},
		"empty cert":         {Results: []Result{{Body: &AuthResponse{VerifiedChain: [][]byte{{}}}}}},
		"ref 10":             {Results: []Result{{Body: &AuthResponse{VerifiedChain: [][]byte{nil}, Presented: []int{MaxChainCerts}}}}},
		"ref -2":             {Results: []Result{{Body: &AuthResponse{VerifiedChain: [][]byte{seq(3)}, Presented: []int{-2}}}}},
		"refs mismatch":      {Results: []Result{{Body: &AuthResponse{VerifiedChain: [][]byte{nil, seq(3)}, Presented: []int{0}}}}},
		"detail":             {Results: []Result{{Err: &Error{Op: OpAuth, Status: StatusInternal, Detail: strings.Repeat("d", MaxDetail+1)}}}},
		"detail utf8":        {Results: []Result{{Err: &Error{Op: OpAuth, Status: StatusInternal, Detail: "\xff"}}}},
		"status ok err":      {Results: []Result{{Err: &Error{Op: OpAuth, Status: StatusOK}}}},
		"unknown status":     {Results: []Result{{Err: &Error{Op: OpAuth, Status: 99}}}},
		"unknown reason":     {Results: []Result{{Err: &Error{Op: OpAuth, Status: StatusInvalidCertificate, Reason: 99}}}},
		"stray reason":       {Results: []Result{{Err: &Error{Op: OpAuth, Status: StatusInternal, Reason: ReasonExpired}}}},
		"hint, other status": {Results: []Result{{Err: &Error{Op: OpStart, Status: StatusInternal, RetryAfter: time.Second}}}},
		"hint too long":      {Results: []Result{{Err: &Error{Op: OpStart, Status: StatusRateLimited, RetryAfter: MaxRetryAfter + time.Millisecond}}}},
		"hint negative":      {Results: []Result{{Err: &Error{Op: OpStart, Status: StatusRateLimited, RetryAfter: -time.Millisecond}}}},
		"hint sub-ms":        {Results: []Result{{Err: &Error{Op: OpStart, Status: StatusRateLimited, RetryAfter: 1500 * time.Microsecond}}}},
		"hint-like detail":   {Results: []Result{{Err: &Error{Op: OpStart, Status: StatusRateLimited, Detail: "retry after 5ms"}}}},
		"hint and detail too long": {Results: []Result{{Err: &Error{Op: OpStart, Status: StatusRateLimited, RetryAfter: time.Second,
			Detail: strings.Repeat("d", MaxDetail-10)}}}},
		"err and body":    {Results: []Result{{Err: &Error{Op: OpKeyGen, Status: StatusInternal}, Body: &KeyGenResponse{ClientKeyExchange: seq(3)}}}},
		"err unknown op":  {Results: []Result{{Err: &Error{Op: OpKey + 1, Status: StatusInternal}}}},
		"neither":         {Results: []Result{{}}},
		"nil body":        {Results: []Result{{Body: (*KeyResponse)(nil)}}},
		"list":            {Results: []Result{{Body: &StartResponse{CipherSuites: list(MaxListLen + 1)}}}},
		"negative ttl":    {Results: []Result{{Body: &StartResponse{TTL: -time.Second}}}},
		"huge ttl":        {Results: []Result{{Body: &StartResponse{TTL: (1 << 32) * time.Second}}}},
		"short master":    {Results: []Result{{Body: &KeyResponse{MasterSecret: seq(47), KeyBlock: seq(40)}}}},
		"empty key block": {Results: []Result{{Body: &KeyResponse{MasterSecret: seq(48)}}}},
		"empty cke":       {Results: []Result{{Body: &KeyGenResponse{}}}},
		"frame budget":    {Results: []Result{{Body: &AuthResponse{VerifiedChain: [][]byte{seq(MaxFrame)}}}}},
	}
	for name, r := range over {
		if _, err := r.Marshal(); !errors.Is(err, StatusMalformed) {
			t.Errorf("%s: Marshal err = %v, want malformed", name, err)
		}
	}

	hdr := func(n byte) []byte { return []byte{KindFlightResponse, 0, 0, 0, 9, 0, 0, n} }
	res := func(op Op, status, reason byte, detail, body []byte) []byte {
		b := []byte{byte(op), status, reason, byte(len(detail) >> 8), byte(len(detail))}
		b = append(b, detail...)
		return append(append(b, byte(len(body)>>16), byte(len(body)>>8), byte(len(body))), body...)
	}
	u24 := func(b []byte) []byte {
		return append([]byte{byte(len(b) >> 16), byte(len(b) >> 8), byte(len(b))}, b...)
	}
	chain := func(n int) []byte {
		var c []byte
		for range n {
			c = append(c, append([]byte{chainTagDER}, u24([]byte{0x30})...)...)
		}
		return u24(c)
	}
	refs := func(idx ...byte) []byte {
		var c []byte
		for _, i := range idx {
			c = append(c, chainTagPresented, i)
		}
		return u24(c)
	}
	if err := new(FlightResponse).Unmarshal(append(hdr(1), res(OpAuth, 0, 0, nil, refs(0, 1, 2, 3, 4, 5, 6, 7, 8, 9))...)); err != nil {
		t.Fatalf("chain of MaxChainCerts references refused: %v", err)
	}
	if err := new(FlightResponse).Unmarshal(append(hdr(1), res(OpAuth, 0, 0, nil, chain(MaxChainCerts))...)); err != nil {
		t.Fatalf("chain of MaxChainCerts refused: %v", err)
	}
	var ill FlightResponse
	if err := ill.Unmarshal(append(hdr(1), res(OpKeyGen, byte(StatusIllegalParameter), 0, []byte("x"), nil)...)); err != nil ||
		len(ill.Results) != 1 || ill.Results[0].Err == nil || ill.Results[0].Err.Status != StatusIllegalParameter {
		t.Fatalf("status illegal parameter refused: %v", err)
	}
	bad := map[string][]byte{
		"chain":          append(hdr(1), res(OpAuth, 0, 0, nil, chain(MaxChainCerts+1))...),
		"empty chain":    append(hdr(1), res(OpAuth, 0, 0, nil, chain(0))...),
		"chain of refs":  append(hdr(1), res(OpAuth, 0, 0, nil, refs(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0))...),
		"ref 10":         append(hdr(1), res(OpAuth, 0, 0, nil, refs(0, 10))...),
		"ref truncated":  append(hdr(1), res(OpAuth, 0, 0, nil, u24([]byte{chainTagPresented}))...),
		"chain tag 2":    append(hdr(1), res(OpAuth, 0, 0, nil, u24([]byte{2, 0}))...),
		"untagged DER":   append(hdr(1), res(OpAuth, 0, 0, nil, u24(u24([]byte{0x30})))...),
		"empty DER":      append(hdr(1), res(OpAuth, 0, 0, nil, u24([]byte{chainTagDER, 0, 0, 0}))...),
		"zero results":   hdr(0),
		"results":        append(hdr(5), bytes.Repeat(res(OpKeyGen, 4, 0, nil, nil), 5)...),
		"detail":         append(hdr(1), res(OpAuth, 4, 0, seq(MaxDetail+1), nil)...),
		"body on error":  append(hdr(1), res(OpAuth, 4, 0, nil, []byte{1})...),
		"detail on ok":   append(hdr(1), res(OpKeyGen, 0, 0, []byte("x"), []byte{0, 1, 1})...),
		"reason on ok":   append(hdr(1), res(OpKeyGen, 0, 1, nil, []byte{0, 1, 1})...),
		"unknown status": append(hdr(1), res(OpAuth, 14, 0, nil, nil)...),
		"unknown reason": append(hdr(1), res(OpAuth, 1, 14, nil, nil)...),
		"stray reason":   append(hdr(1), res(OpAuth, 6, 1, nil, nil)...),
		"ok op 0":        append(hdr(1), res(0, 0, 0, nil, nil)...),
		"op 5":           append(hdr(1), res(5, 4, 0, nil, nil)...),
		"master 47":      append(hdr(1), res(OpKey, 0, 0, nil, append(append([]byte{47}, seq(47)...), 0, 1, 1))...),
		"keygen extra":   append(hdr(1), res(OpKeyGen, 0, 0, nil, []byte{0, 1, 1, 0})...),
		"kind":           append([]byte{KindFlight}, hdr(1)[1:]...),
		"token":          append(append([]byte{KindFlightResponse, 0, 0, 0, 9, 0x10, 0x01}, seq(MaxToken+1)...), append([]byte{1}, res(OpAuth, 4, 0, nil, nil)...)...),
	}
	for name, b := range bad {
		err := new(FlightResponse).Unmarshal(b)
		var e *Error
		if !errors.As(err, &e) || e.Status != StatusMalformed {
			t.Errorf("%s: Unmarshal err = %v, want *Error malformed", name, err)
		}
	}
}

func TestFlightID(t *testing.T) {
	b := mustMarshalFlight(t, sampleFlights()[2])
	if id, ok := FlightID(b); !ok || id != 0xfffffffe {
		t.Fatalf("FlightID = %d, %v", id, ok)
	}
	if _, ok := FlightID(b[:4]); ok {
		t.Fatal("FlightID accepted a short header")
	}
	if _, ok := FlightID(append([]byte{KindFlightResponse}, b[1:]...)); ok {
		t.Fatal("FlightID accepted a response")
	}
}

func TestErrorStrings(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{StatusPolicyDenied, "offloader: policy denied"},
		{StatusAuthFailed, "offloader: authentication failed (unknown device or wrong PSK)"},
		{Status(200), "offloader: status(200)"},
		{&Error{Op: OpAuth, Status: StatusInvalidCertificate, Reason: ReasonNameMismatch, Detail: "leaf is for b.example"},
			"offloader: auth: invalid certificate: name mismatch: leaf is for b.example"},
		{&Error{Op: OpKeyGen, Status: StatusAborted}, "offloader: keygen: aborted"},
		{&Error{Status: StatusBadVersion}, "offloader: protocol version not supported"},
		{&Error{Op: OpKeyGen, Status: StatusIllegalParameter, Detail: "invalid server ECDHE point"},
			"offloader: keygen: the server's handshake carries an illegal parameter: invalid server ECDHE point"},
	}
	for _, c := range cases {
		if got := c.err.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
	}
	for s := StatusOK; s <= StatusIllegalParameter; s++ {
		if strings.Contains(s.Error(), "status(") {
			t.Errorf("status %d has no words", s)
		}
	}
	for r := ReasonNone; r <= ReasonRevocationUnknown; r++ {
		if strings.Contains(r.String(), "reason(") {
			t.Errorf("reason %d has no words", r)
		}
	}
	if !errors.Is(&Error{Op: OpAuth, Status: StatusBadToken}, StatusBadToken) {
		t.Error("errors.Is does not reach the status")
	}
}
