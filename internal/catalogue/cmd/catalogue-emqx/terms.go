package main

import "strings"

// nesting is 1 for a token that opens a bracket, -1 for one that closes
// one, and 0 for any other.
func nesting(t token) int {
	if t.kind != tkPunct {
		return 0
	}
	switch t.text {
	case "(", "[", "{", "<<":
		return 1
	case ")", "]", "}", ">>":
		return -1
	}
	return 0
}

// matching returns the index of the bracket closing the one at open, or
// the last token.
func matching(ts []token, open int) int {
	depth := 0
	for k := open; k < len(ts); k++ {
		d := nesting(ts[k])
		depth += d
		if d < 0 && depth == 0 {
			return k
		}
	}
	return len(ts) - 1
}

// splitArgs splits the arguments of the call whose "(" is at open.
func splitArgs(ts []token, open int) [][]token {
	end := matching(ts, open)
	if end <= open+1 {
		return nil
	}
	return splitCommas(ts[open+1 : end])
}

// splitCommas splits ts at the commas outside brackets; a trailing comma
// leaves an empty last piece.
func splitCommas(ts []token) [][]token {
	var out [][]token
	depth, start := 0, 0
	for k, t := range ts {
		depth += nesting(t)
		if depth == 0 && t.kind == tkPunct && t.text == "," {
			out = append(out, ts[start:k])
			start = k + 1
		}
	}
	if len(ts) > 0 {
		out = append(out, ts[start:])
	}
	return out
}

// literal returns the text of a string literal (adjacent strings joined,
// "a" ++ "b" too), a binary of one string, or an atom.
func literal(ts []token) (string, bool) {
	if len(ts) == 1 && (ts[0].kind == tkAtom || ts[0].kind == tkString) {
		return ts[0].text, true
	}
	// <<"text">>, <<"text"/utf8>>
	if len(ts) >= 3 && ts[0].text == "<<" && ts[1].kind == tkString && ts[len(ts)-1].text == ">>" &&
		(len(ts) == 3 || len(ts) == 5 && ts[2].text == "/" && ts[3].text == "utf8") {
		return ts[1].text, true
	}
	var b strings.Builder
	for k, t := range ts {
		switch {
		case t.kind == tkString:
			b.WriteString(t.text)
		case t.text == "++" && k > 0 && k+1 < len(ts):
		default:
			return "", false
		}
	}
	return b.String(), len(ts) > 0
}

func isLiteral(ts []token) bool {
	if len(ts) == 1 && ts[0].kind == tkAtom {
		return false // an atom is a report key or a variable level, not a format
	}
	_, ok := literal(ts)
	return ok
}

// reportMsg finds the msg of a report map among data's tokens
// (#{msg => "x", ...}, Data#{msg => x}, maps:merge(#{msg => ...}, M))
// and the map's other keys.
func reportMsg(data []token) (msg string, keys []string, ok bool) {
	for k := 0; k+1 < len(data); k++ {
		if data[k].kind != tkPunct || data[k].text != "#" || data[k+1].text != "{" {
			continue
		}
		end := matching(data, k+1)
		if end < k+2 {
			break // unterminated
		}
		m, ks, found := mapPairs(data[k+2 : end])
		if found {
			return m, ks, true
		}
		if keys == nil {
			keys = ks
		}
	}
	return "", keys, false
}

// mapPairs reads the key => value pairs of a map's inside.
func mapPairs(in []token) (msg string, keys []string, found bool) {
	for _, p := range splitCommas(in) {
		if len(p) >= 3 && (p[1].text == "=>" || p[1].text == ":=") {
			key := p[0].text
			if p[0].kind != tkAtom && p[0].kind != tkString {
				continue
			}
			if key == "msg" {
				if s, ok := literal(p[2:]); ok {
					msg, found = s, true
				}
				continue
			}
			keys = append(keys, key)
		}
	}
	return msg, keys, found
}

// boundMsg finds, going back from toks[at] to the start of the function
// clause, the binding `name = #{msg => ...}` (or `name = X#{msg => ...}`)
// and returns that map's msg and keys.
func boundMsg(toks []token, at int, name string) (string, []string, bool) {
	for k := at - 1; k >= 1; k-- {
		t := toks[k]
		if t.kind == tkPunct && t.text == "." {
			break
		}
		if t.kind == tkVar && t.text == name && k+1 < len(toks) && toks[k+1].kind == tkPunct && toks[k+1].text == "=" {
			end := k + 2
			for end < at && !(toks[end].kind == tkPunct && (toks[end].text == "," || toks[end].text == ";")) {
				if toks[end].kind == tkPunct && (toks[end].text == "{" || toks[end].text == "(" || toks[end].text == "[") {
					end = matching(toks, end)
				}
				end++
			}
			return reportMsg(toks[k+2 : end])
		}
	}
	return "", nil, false
}
