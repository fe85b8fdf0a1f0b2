package fingerprint

import (
	"errors"
	"fmt"

	"github.com/tlsoffload/tlsoffload/handshake"
)

// GREASE seed indices, BoringSSL's (ssl_grease_cipher, ..._group,
// ..._extension1, ..._extension2), plus one for signature algorithms.
const (
	greaseCipher = iota
	greaseGroup
	greaseExt1
	greaseExt2
	greaseSigAlg = 6
)

// greaseValues derives the GREASE values of one hello from its random, as
// BoringSSL did before it drew them separately: byte i of the random gives
// 0x?a?a for index i (RFC 8701 §2, §3). The two extensions get distinct
// values, as RFC 8701 §3.1 requires.
func greaseValues(random []byte) [7]uint16 {
	var g [7]uint16
	for i := range g {
		v := uint16(random[i]&0xf0) | 0x0a
		g[i] = v<<8 | v
	}
	if g[greaseExt1] == g[greaseExt2] {
		g[greaseExt2] ^= 0x1010
	}
	return g
}

// Shape rewrites h, the ClientHello tlsclient built, after the spec: the
// function to put in tlsclient.Config.ShapeClientHello. See the package doc
// for what is kept. It fails, leaving h as it was, if the spec and the
// device have no cipher suite, group or signature algorithm in common, or
// the shaped hello would not marshal.
func (s *Shaper) Shape(h *handshake.ClientHello) error {
	if h == nil {
		return errors.New("fingerprint: nil ClientHello")
	}
	if len(h.Random) != handshake.RandomLen {
		return errors.New("fingerprint: ClientHello random is not 32 bytes")
	}
	g := greaseValues(h.Random)

	out := *h
	out.CipherSuites = filter(s.suites, h.CipherSuites, g[greaseCipher])
	if !hasReal(out.CipherSuites) {
		return fmt.Errorf("fingerprint: none of the spec's cipher suites is allowed for this connection (allowed: %#04x)", h.CipherSuites)
	}
	out.ServerName = ""
	out.SupportedGroups = nil
	out.PointFormats = nil
	out.SignatureAlgorithms = nil
	out.ALPNProtocols = nil
	out.ExtendedMasterSecret = false
	out.SecureRenegotiation = false
	out.RenegotiationInfo = nil
	out.TicketSupported = false
	out.SessionTicket = nil
	out.MaxFragmentLength = 0
	out.OCSPStapling = false
	out.Extra = nil
	out.ExtensionOrder = nil
	out.Raw = nil

	extra := make(map[uint16]handshake.Extension, len(h.Extra))
	for _, e := range h.Extra {
		extra[e.Type] = e
	}
	placed := map[uint16]bool{}
	place := func(typ uint16) {
		out.ExtensionOrder = append(out.ExtensionOrder, typ)
		placed[typ] = true
	}
	placeExtra := func(e handshake.Extension) {
		out.Extra = append(out.Extra, e)
		place(e.Type)
	}

	var pad *planExt
	greases := 0
	for i := range s.exts {
		p := &s.exts[i]
		switch p.kind {
		case kindGREASE:
			v := g[greaseExt1]
			if greases > 0 {
				v = g[greaseExt2]
			}
			greases++
			placeExtra(handshake.Extension{Type: v, Data: clone(p.body)})
		case kindPadding:
			pad = p
			place(extPadding)
		case kindOpaque:
			if e, ok := extra[p.typ]; ok {
				placeExtra(e)
			} else {
				placeExtra(handshake.Extension{Type: p.typ, Data: clone(p.body)})
			}
		case kindOffered:
			if p.typ == extStatusRequest && h.OCSPStapling {
				out.OCSPStapling = true
				place(p.typ)
			} else if e, ok := extra[p.typ]; ok {
				placeExtra(e)
			}
		case kindField:
			ok, err := s.shapeField(&out, h, p, g)
			if err != nil {
				return err
			}
			if ok {
				place(p.typ)
			}
		}
	}

	// The device's constraints the spec has no place for go after the
	// spec's extensions, before its padding.
	if h.ServerName != "" && !placed[handshake.ExtServerName] {
		out.ServerName = h.ServerName
		place(handshake.ExtServerName)
	}
	if len(h.SupportedGroups) > 0 && !placed[handshake.ExtSupportedGroups] {
		out.SupportedGroups = h.SupportedGroups
		place(handshake.ExtSupportedGroups)
	}
	if len(h.SignatureAlgorithms) > 0 && !placed[handshake.ExtSignatureAlgorithms] {
		out.SignatureAlgorithms = h.SignatureAlgorithms
		place(handshake.ExtSignatureAlgorithms)
	}
	if len(h.ALPNProtocols) > 0 && !placed[handshake.ExtALPN] {
		out.ALPNProtocols = h.ALPNProtocols
		place(handshake.ExtALPN)
	}
	if h.MaxFragmentLength != 0 && !placed[handshake.ExtMaxFragmentLength] {
		out.MaxFragmentLength = h.MaxFragmentLength
		place(handshake.ExtMaxFragmentLength)
	}
	for _, e := range h.Extra {
		if !placed[e.Type] {
			placeExtra(e)
		}
	}
	if pad != nil {
		// Move padding's slot to the end if extensions were appended after
		// it, so it stays last where the spec has it last.
		out.ExtensionOrder = movePaddingLast(out.ExtensionOrder, s.paddingLast())
	}

	msg, err := out.MarshalChecked()
	if err != nil {
		return fmt.Errorf("fingerprint: shaped ClientHello: %w", err)
	}
	if pad != nil {
		unpadded := len(msg)
		if len(out.ExtensionTypes()) == 0 {
			unpadded += 2 // the extensions block padding will open
		}
		if n, will := pad.padLen(unpadded); will && n >= 0 && n <= 0xffff {
			out.Extra = append(out.Extra, handshake.Extension{Type: extPadding, Data: make([]byte, n)})
			if _, err := out.MarshalChecked(); err != nil {
				return fmt.Errorf("fingerprint: padded ClientHello: %w", err)
			}
		}
	}
	out.Raw = nil
	*h = out
	return nil
}

// shapeField sets in out the hello field of one spec extension, from h
// (what tlsclient built) filtered by the spec; ok is false if the
// extension is not sent.
func (s *Shaper) shapeField(out, h *handshake.ClientHello, p *planExt, g [7]uint16) (ok bool, err error) {
	switch p.typ {
	case handshake.ExtServerName:
		out.ServerName = h.ServerName
		return h.ServerName != "", nil
	case handshake.ExtSupportedGroups:
		if len(h.SupportedGroups) == 0 {
			return false, nil
		}
		out.SupportedGroups = filter(p.groups, h.SupportedGroups, g[greaseGroup])
		if !hasReal(out.SupportedGroups) {
			return false, fmt.Errorf("fingerprint: none of the spec's groups is allowed for this connection (allowed: %d)", h.SupportedGroups)
		}
		return true, nil
	case handshake.ExtSignatureAlgorithms:
		if len(h.SignatureAlgorithms) == 0 {
			return false, nil
		}
		out.SignatureAlgorithms = filter(p.sigAlgs, h.SignatureAlgorithms, g[greaseSigAlg])
		if !hasReal(out.SignatureAlgorithms) {
			return false, fmt.Errorf("fingerprint: none of the spec's signature algorithms is allowed for this connection (allowed: %#04x)", h.SignatureAlgorithms)
		}
		return true, nil
	case handshake.ExtECPointFormats:
		for _, f := range p.points {
			for _, have := range h.PointFormats {
				if f == have {
					out.PointFormats = append(out.PointFormats, f)
					break
				}
			}
		}
		return len(out.PointFormats) > 0, nil
	case handshake.ExtALPN:
		out.ALPNProtocols = h.ALPNProtocols
		return len(h.ALPNProtocols) > 0, nil
	case handshake.ExtExtendedMasterSecret:
		out.ExtendedMasterSecret = h.ExtendedMasterSecret
		return h.ExtendedMasterSecret, nil
	case handshake.ExtRenegotiationInfo:
		out.SecureRenegotiation, out.RenegotiationInfo = h.SecureRenegotiation, h.RenegotiationInfo
		return h.SecureRenegotiation, nil
	case handshake.ExtSessionTicket:
		out.TicketSupported, out.SessionTicket = h.TicketSupported, h.SessionTicket
		return h.TicketSupported, nil
	case handshake.ExtMaxFragmentLength:
		out.MaxFragmentLength = h.MaxFragmentLength
		return h.MaxFragmentLength != 0, nil
	}
	return false, nil
}

// filter keeps the spec's values that are allowed, in the spec's order
// (repeats included, as the spec has them), with GREASE placeholders
// replaced by grease.
func filter(spec, allowed []uint16, grease uint16) []uint16 {
	var out []uint16
	for _, v := range spec {
		if v == greasePlaceholder {
			out = append(out, grease)
			continue
		}
		for _, a := range allowed {
			if a == v {
				out = append(out, v)
				break
			}
		}
	}
	return out
}

// paddingLast reports whether the spec's padding is its last extension.
func (s *Shaper) paddingLast() bool {
	return len(s.exts) > 0 && s.exts[len(s.exts)-1].kind == kindPadding
}

func movePaddingLast(order []uint16, last bool) []uint16 {
	if !last {
		return order
	}
	out := make([]uint16, 0, len(order))
	for _, t := range order {
		if t != extPadding {
			out = append(out, t)
		}
	}
	return append(out, extPadding)
}
