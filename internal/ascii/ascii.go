// Package ascii folds the case of DNS names the way the device needs it:
// server names are ASCII on the wire (RFC 6066 §3: A-labels), so only the
// 26 letters A–Z fold. strings.ToLower would fold every Unicode letter
// (and, for one function, link the unicode case tables into a device
// program); folding fewer letters only ever keeps two spellings apart,
// never merges two names ToLower would not.
package ascii

// ToLower returns s with A–Z mapped to a–z and every other byte as is; s
// itself when it has no upper-case letter.
func ToLower(s string) string {
	for i := 0; i < len(s); i++ {
		if isUpper(s[i]) {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if isUpper(b[j]) {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
