package clientreq

// validate reports whether b is exactly one JSON value, as json.Valid
// decides (strings may hold invalid UTF-8, as encoding/json accepts), and
// whether it nests deeper than MaxDepth, which it reports at once without
// reading further. It is one pass without allocating and several times
// faster than json.Valid plus a separate depth count: a Claude Code body is
// tens to hundreds of kilobytes, and relay reads each one before anything
// else.
func validate(b []byte) (ok, tooDeep bool) {
	var open [MaxDepth]byte // '{' or '[' of each level
	depth := 0
	i := skipWS(b, 0)
	for {
		// A value starts at b[i].
		if i >= len(b) {
			return false, false
		}
		switch b[i] {
		case '{', '[':
			if depth == MaxDepth {
				return false, true
			}
			open[depth] = b[i]
			depth++
			closer := byte('}')
			if b[i] == '[' {
				closer = ']'
			}
			i = skipWS(b, i+1)
			if i < len(b) && b[i] == closer {
				depth--
				i++
				break
			}
			if closer == '}' {
				if i = memberKey(b, i); i < 0 {
					return false, false
				}
			}
			continue // the first member's or element's value
		case '"':
			if i = scanString(b, i); i < 0 {
				return false, false
			}
		case 't':
			if i = literal(b, i, "true"); i < 0 {
				return false, false
			}
		case 'f':
			if i = literal(b, i, "false"); i < 0 {
				return false, false
			}
		case 'n':
			if i = literal(b, i, "null"); i < 0 {
				return false, false
			}
		default:
			if i = scanNumber(b, i); i < 0 {
				return false, false
			}
		}
		// A value ended at b[i]: close containers until another value is due.
		for {
			i = skipWS(b, i)
			if depth == 0 {
				return i == len(b), false
			}
			if i >= len(b) {
				return false, false
			}
			c := b[i]
			if c == ',' {
				i = skipWS(b, i+1)
				if open[depth-1] == '{' {
					if i = memberKey(b, i); i < 0 {
						return false, false
					}
				}
				break
			}
			if (c == '}' && open[depth-1] == '{') || (c == ']' && open[depth-1] == '[') {
				depth--
				i++
				continue
			}
			return false, false
		}
	}
}

// memberKey reads `"key" :` at b[i] and returns where the value starts, or
// -1.
func memberKey(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = scanString(b, i); i < 0 {
		return -1
	}
	i = skipWS(b, i)
	if i >= len(b) || b[i] != ':' {
		return -1
	}
	return skipWS(b, i+1)
}

// plainStringByte marks the bytes a JSON string holds as they are: not the
// quote, not the backslash, not a control character.
var plainStringByte = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString returns the index just past the valid JSON string starting at
// b[i] (a quote), or -1.
func scanString(b []byte, i int) int {
	j := i + 1
	for j < len(b) {
		c := b[j]
		if plainStringByte[c] {
			j++
			continue
		}
		switch c {
		case '"':
			return j + 1
		case '\\':
			if j+1 >= len(b) {
				return -1
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(b) || !isHexDigit(b[j+2]) || !isHexDigit(b[j+3]) || !isHexDigit(b[j+4]) || !isHexDigit(b[j+5]) {
					return -1
				}
				j += 6
			default:
				return -1
			}
		default: // a control character
			return -1
		}
	}
	return -1
}

func isHexDigit(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanNumber returns the index just past the JSON number starting at b[i],
// or -1.
func scanNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i
}

// literal returns the index just past word at b[i], or -1.
func literal(b []byte, i int, word string) int {
	if len(b)-i < len(word) || string(b[i:i+len(word)]) != word {
		return -1
	}
	return i + len(word)
}
