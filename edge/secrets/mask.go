package secrets

import "strings"

// Mask shows enough of a secret to recognize it, "sk-ant-...a9c": a prefix
// up to its last '-' or '_' among the first few characters (the vendor's
// marker, which is not secret), or failing that the first three characters,
// then "..." and the last three. At most a third of the secret is shown for
// the prefix, and secrets under 12 characters are masked entirely as "***":
// six visible characters of a short one would give too much of it away.
func Mask(secret string) string {
	r := []rune(secret)
	n := len(r)
	if n < 12 {
		return "***"
	}
	window := min(8, n/3)
	prefix := 0
	for i := range window {
		if r[i] == '-' || r[i] == '_' {
			prefix = i + 1
		}
	}
	if prefix == 0 {
		prefix = min(3, window)
	}
	var b strings.Builder
	b.WriteString(string(r[:prefix]))
	b.WriteString("...")
	b.WriteString(string(r[n-3:]))
	return b.String()
}
