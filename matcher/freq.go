package matcher

import (
	"bytes"
	_ "embed"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Regenerate the modelled traffic's counts, then the tables (genfreq's
// test fails when either is stale):
//go:generate go test -count=1 ./internal/genfreq -run TestTrafficCounts -update
//go:generate go run ./internal/genfreq -examples ../examples/logs -traffic internal/genfreq/traffic_ngrams.txt -out .

// freqTable is the generated n-gram table (freq_table.txt), parsed when
// the first matcher is built. As a map literal it was initialised in
// every process, `mqttdiag version` included: 2.3 ms and 437 KB of heap
// at start (GODEBUG=inittrace=1); parsed, it takes 87 KB.
//
//go:embed freq_table.txt
var freqTable string

// ngramRates is freqTable parsed, once.
var ngramRates = sync.OnceValue(func() rates {
	r, err := parseRates(freqTable)
	if err != nil {
		// The file is generated and checked by genfreq's test; a build
		// that embeds a broken one is not worth running.
		panic(fmt.Sprintf("matcher: embedded freq_table.txt: %v", err))
	}
	return r
})

// rates maps a normalised 1-, 2- or 3-gram to the number of broker log
// lines per million that contain it: keys holds packed n-grams (see pack)
// in increasing order, rate the rate of each.
type rates struct {
	floor uint32 // the lowest rate kept; rarer n-grams are not in keys
	keys  []uint32
	rate  []uint32
}

// pack packs an n-gram of 1 to 3 bytes into one word, ordered by length
// then bytes.
func pack(g []byte) uint32 {
	k := uint32(len(g)) << 24
	for i, c := range g {
		k |= uint32(c) << (16 - 8*i)
	}
	return k
}

// parseRates reads the table: '#' comment lines, a "floor N" line, then
// one line per n-gram, its Go-quoted bytes and its rate, in increasing
// pack order.
func parseRates(text string) (rates, error) {
	lines := strings.Count(text, "\n") + 1
	r := rates{keys: make([]uint32, 0, lines), rate: make([]uint32, 0, lines)}
	n := 0
	for line := range strings.SplitSeq(text, "\n") {
		n++
		if line == "" || line[0] == '#' {
			continue
		}
		if f, ok := strings.CutPrefix(line, "floor "); ok {
			v, err := strconv.ParseUint(f, 10, 32)
			if err != nil {
				return rates{}, fmt.Errorf("line %d: floor: %w", n, err)
			}
			r.floor = uint32(v)
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			return rates{}, fmt.Errorf("line %d: want a quoted n-gram and a rate: %q", n, line)
		}
		g, err := strconv.Unquote(line[:sp])
		if err != nil || len(g) < 1 || len(g) > 3 {
			return rates{}, fmt.Errorf("line %d: n-gram %s: want a Go string of 1 to 3 bytes", n, line[:sp])
		}
		v, err := strconv.ParseUint(line[sp+1:], 10, 32)
		if err != nil {
			return rates{}, fmt.Errorf("line %d: rate: %w", n, err)
		}
		k := pack([]byte(g))
		if len(r.keys) > 0 && k <= r.keys[len(r.keys)-1] {
			return rates{}, fmt.Errorf("line %d: n-gram %s out of order", n, line[:sp])
		}
		r.keys = append(r.keys, k)
		r.rate = append(r.rate, uint32(v))
	}
	if r.floor == 0 || len(r.keys) == 0 {
		return rates{}, fmt.Errorf("no floor line or no n-grams")
	}
	return r, nil
}

// of returns the rate of n-gram g; one not in the table is rarer than the
// floor, and taken as half of it.
func (r rates) of(g []byte) uint32 {
	if i, ok := slices.BinarySearch(r.keys, pack(g)); ok {
		return r.rate[i]
	}
	return r.floor / 2
}

// frequency estimates in how many broker log lines per million the
// normalised key occurs. A key occurs at most as often as its rarest
// 3-gram, so that bound is the estimate; keys shorter than 3 bytes use
// their own 1- or 2-gram.
//
// Ranking triggers this way, as ripgrep ranks bytes, keeps common words
// ("client", "from ") from being chosen just because they are long.
func frequency(key []byte) uint32 {
	r := ngramRates()
	// The table does not tell scripts apart: every non-ASCII byte is 0x80.
	key = bytes.Clone(key)
	for i, c := range key {
		if c >= nonASCII {
			key[i] = nonASCII
		}
	}
	if len(key) < 3 {
		return r.of(key)
	}
	best := uint32(1_000_000)
	for i := 0; i+3 <= len(key); i++ {
		best = min(best, r.of(key[i:i+3]))
	}
	return best
}
