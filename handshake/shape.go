package handshake

// This file lets a ClientHello-shaping hook (tlsclient.Config's
// ShapeClientHello, tlsclient/fingerprint) choose the order of the
// extensions, which a fingerprint such as JA3 records.

// orderExtensions returns exts in the order of m.ExtensionOrder: the
// listed types first, in the listed order (a type listed twice counts
// once), then the unlisted ones in the order given. exts is returned as is
// when no order is set.
func (m *ClientHello) orderExtensions(exts []Extension) []Extension {
	if len(m.ExtensionOrder) == 0 || len(exts) < 2 {
		return exts
	}
	out := make([]Extension, 0, len(exts))
	used := make([]bool, len(exts))
	for _, t := range m.ExtensionOrder {
		for i, e := range exts {
			if !used[i] && e.Type == t {
				out = append(out, e)
				used[i] = true
				break
			}
		}
	}
	for i, e := range exts {
		if !used[i] {
			out = append(out, e)
		}
	}
	return out
}
