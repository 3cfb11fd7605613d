package matcher

import "bytes"

//go:generate go run ./internal/genfreq -out freq_table.go -logs=${MQTTDIAG_EXTRA_LOGS}

// frequency estimates in how many broker log lines per million the
// normalised key occurs, from ngramFreq (freq_table.go, generated from
// real and generated Mosquitto logs). A key occurs at most as often as its
// rarest 3-gram, so that bound is the estimate; keys shorter than 3 bytes
// use their own 1- or 2-gram. An n-gram missing from the table is rarer
// than the table's floor.
//
// Ranking triggers this way, as ripgrep ranks bytes, keeps common words
// ("client", "from ") from being chosen just because they are long.
func frequency(key []byte) uint32 {
	// The table does not tell scripts apart: every non-ASCII byte is 0x80.
	key = bytes.Clone(key)
	for i, c := range key {
		if c >= nonASCII {
			key[i] = nonASCII
		}
	}
	if len(key) < 3 {
		return ngram(key)
	}
	best := uint32(1_000_000)
	for i := 0; i+3 <= len(key); i++ {
		best = min(best, ngram(key[i:i+3]))
	}
	return best
}

func ngram(g []byte) uint32 {
	if f, ok := ngramFreq[string(g)]; ok {
		return f
	}
	return ngramFloor / 2
}
