package handshake

import "slices"

// This file lets a ClientHello-shaping hook (tlsclient.Config's
// ShapeClientHello, tlsclient/fingerprint) choose the order of the
// extensions, which a fingerprint such as JA3 records.

// orderExtensions puts exts in the order of order, in place: the listed
// types first, in the listed order (a type listed twice counts once), then
// the unlisted ones in the order given.
func orderExtensions(exts []helloExtension, order []uint16) {
	next := 0 // exts[:next] are placed
	for _, t := range order {
		i := slices.IndexFunc(exts[next:], func(e helloExtension) bool { return e.typ == t })
		if i < 0 {
			continue
		}
		e := exts[next+i]
		copy(exts[next+1:next+i+1], exts[next:next+i])
		exts[next] = e
		next++
	}
}
