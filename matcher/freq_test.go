package matcher

import (
	"strings"
	"testing"
)

// The embedded table parses, and ranks as the trigger choice needs: the
// words of every line above those of a fault, n-grams it never saw below
// the floor.
func TestFrequency(t *testing.T) {
	r := ngramRates()
	if r.floor != 10 || len(r.keys) < 5000 {
		t.Fatalf("table: floor %d, %d n-grams", r.floor, len(r.keys))
	}
	common, rare := frequency([]byte("received publish from ")), frequency([]byte(" already connected, closing old connection."))
	if common < 100_000 || rare >= 10_000 || rare < r.floor {
		t.Errorf("frequency: %d for a line's opening words, %d for a takeover's", common, rare)
	}
	if f := frequency([]byte("zqxj")); f != r.floor/2 {
		t.Errorf("frequency of an unseen key = %d, want half the floor (%d)", f, r.floor/2)
	}
	// Non-ASCII bytes are one byte of the table, whatever the script.
	if a, b := frequency([]byte("\xd0\x80\x80")), frequency([]byte("\xe4\x80\x80")); a != b || a <= r.floor {
		t.Errorf("frequency of non-ASCII keys: %d and %d, want equal and above the floor", a, b)
	}
}

func TestParseRatesErrors(t *testing.T) {
	for _, tt := range []struct{ text, want string }{
		{"floor 10\n\"a\" 5\n\"b\" x\n", "line 3: rate"},
		{"floor 10\n\"abcd\" 5\n", "line 2: n-gram"},
		{"floor 10\n\"b\" 5\n\"a\" 5\n", "line 3: n-gram \"a\" out of order"},
		{"floor 10\n\"aa\" 5\n\"b\" 5\n", "line 3: n-gram \"b\" out of order"},
		{"floor 10\nab\n", "line 2: want a quoted n-gram"},
		{"floor x\n", "line 1: floor"},
		{"# no rows\nfloor 10\n", "no floor line or no n-grams"},
		{"\"a\" 5\n", "no floor line or no n-grams"},
	} {
		_, err := parseRates(tt.text)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseRates(%q) = %v, want an error with %q", tt.text, err, tt.want)
		}
	}
}

// FuzzParseRates: any text gives a table or an error, never a panic, and
// a table answers every n-gram it holds.
func FuzzParseRates(f *testing.F) {
	f.Add(freqTable[:2000])
	f.Add("floor 10\n\"\\x80\" 7\n\" '\" 3\n")
	f.Fuzz(func(t *testing.T, text string) {
		r, err := parseRates(text)
		if err != nil {
			return
		}
		for i, k := range r.keys {
			g := make([]byte, k>>24)
			for j := range g {
				g[j] = byte(k >> (16 - 8*j))
			}
			if got := r.of(g); got != r.rate[i] {
				t.Errorf("of(%q) = %d, want %d", g, got, r.rate[i])
			}
		}
	})
}
