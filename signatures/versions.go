package signatures

import (
	"strconv"
	"strings"
)

// CoversVersion reports whether the signature's version table names the
// broker version a log came from. known is false when the table says
// nothing about that broker or is not in a form mqttdiag reads; then
// covered means nothing.
//
// Entries read: "Mosquitto 2.0.11" (exact, or a prefix: "Mosquitto 2.0"
// covers 2.0.x), "Mosquitto 2.0.x", "Mosquitto 2.0.0 - 2.0.20" (inclusive),
// "EMQX 5.0+", with any trailing text after the version ignored
// ("Mosquitto 2.1 (develop)").
func (s *Signature) CoversVersion(broker, version string) (covered, known bool) {
	if broker == "" || version == "" {
		return false, false
	}
	v := parseVersion(version)
	if v == nil {
		return false, false
	}
	for _, e := range s.Versions {
		name, spec, ok := strings.Cut(strings.TrimSpace(e.Version), " ")
		if !ok || !strings.EqualFold(name, broker) {
			continue
		}
		known = true
		if versionSpecCovers(spec, v) {
			return true, true
		}
	}
	return false, known
}

func versionSpecCovers(spec string, v []int) bool {
	spec = strings.TrimSpace(spec)
	if lo, hi, ok := strings.Cut(spec, " - "); ok {
		l, h := parseVersion(firstWord(lo)), parseVersion(firstWord(hi))
		return l != nil && h != nil && compare(v, l, false) >= 0 && compare(v, h, true) <= 0
	}
	w := firstWord(spec)
	if strings.HasSuffix(w, "+") {
		l := parseVersion(strings.TrimSuffix(w, "+"))
		return l != nil && compare(v, l, false) >= 0
	}
	w = strings.TrimSuffix(strings.TrimSuffix(w, ".x"), ".*")
	p := parseVersion(w)
	return p != nil && compare(v, p, true) == 0
}

func firstWord(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " ("); i >= 0 {
		return s[:i]
	}
	return s
}

// parseVersion reads "2.0.11" or "2.1.0-rc1" as [2 0 11]; nil when it is
// not a version.
func parseVersion(s string) []int {
	if i := strings.IndexAny(s, "-+~ "); i >= 0 {
		s = s[:i]
	}
	if s == "" {
		return nil
	}
	var out []int
	for _, p := range strings.Split(s, ".") {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil
		}
		out = append(out, n)
	}
	return out
}

// compare compares v with spec; with prefix, a spec shorter than v
// compares equal when it is a prefix of v ("2.0" against 2.0.11).
func compare(v, spec []int, prefix bool) int {
	for i := range spec {
		if i >= len(v) {
			return -1
		}
		if v[i] != spec[i] {
			if v[i] < spec[i] {
				return -1
			}
			return 1
		}
	}
	if len(v) > len(spec) && !prefix {
		return 1
	}
	return 0
}
