package matcher

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/mqttdiag/mqttdiag/signatures"
)

// The cache keeps copies of messages and captures: a message is a
// substring of the reader's batch buffer, and a cached substring would
// keep the whole batch alive (with 4,096 entries, about 100 MB of batches
// on a long scan).
func TestCacheDoesNotPinTheCallersBuffer(t *testing.T) {
	s, err := signatures.Parse("p.json", []byte(`[{"id": "t", "regex": "^Client (?P<client_id>\\S+) has exceeded timeout, disconnecting\\.$"}]`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	batch := strings.Repeat("x", 1<<16) + "Client c7 has exceeded timeout, disconnecting." + strings.Repeat("y", 1<<16)
	msg := batch[1<<16 : len(batch)-1<<16]
	lo := uintptr(unsafe.Pointer(unsafe.StringData(batch)))
	hi := lo + uintptr(len(batch))
	inBatch := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		return p >= lo && p < hi
	}
	for range 3 { // the doorkeeper admits a message on its second miss
		if hits := m.Match(msg); len(hits) != 1 || hits[0].Fields["client_id"] != "c7" {
			t.Fatalf("hits %+v", hits)
		}
	}
	n := 0
	for _, c := range m.caches {
		if c == nil {
			continue
		}
		for _, k := range c.lru.Keys() {
			v, _ := c.lru.Peek(k)
			n++
			if inBatch(k) {
				t.Error("a cache key points into the caller's buffer")
			}
			for _, h := range v {
				for _, f := range h.Fields {
					if inBatch(f) {
						t.Error("a cached capture points into the caller's buffer")
					}
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("nothing was cached; the test proves nothing")
	}
}
