package matcher

import (
	"hash/maphash"
	"strings"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
)

// cache maps a message to its hits, bounded in entries and bytes.
//
// A message enters it only on its second miss: a doorkeeper remembers the
// hash of each message missed once. Most messages of a broker log never
// repeat (message ids, ports), and copying each into the LRU cost more
// than the cache saved (an always-triggered regex ran 43 % slower with it
// than without); a fault storm repeats its few lines at once.
type cache struct {
	lru      *lru.Cache[string, []Hit]
	bytes    atomic.Int64
	maxBytes int64
	seed     maphash.Seed
	seen     []atomic.Uint64 // doorkeeper, indexed by hash; a power of two long
}

func newCache(entries int, maxBytes int64) *cache {
	slots := 1024
	for slots < 2*entries {
		slots *= 2
	}
	c := &cache{maxBytes: maxBytes, seed: maphash.MakeSeed(), seen: make([]atomic.Uint64, slots)}
	l, err := lru.NewWithEvict(entries, func(k string, v []Hit) { c.bytes.Add(-entryBytes(k, v)) })
	if err != nil {
		panic(err) // only for a size <= 0, which New never asks for
	}
	c.lru = l
	return c
}

// entryBytes estimates what an entry holds: key, slice, maps.
func entryBytes(k string, v []Hit) int64 {
	n := int64(len(k)) + 64 + int64(cap(v))*24
	for _, h := range v {
		for name, val := range h.Fields {
			n += int64(len(name)+len(val)) + 48
		}
	}
	return n
}

// admit reports whether msg was missed before (as far as the doorkeeper
// remembers), and remembers it.
func (c *cache) admit(msg string) bool {
	h := maphash.String(c.seed, msg) | 1 // 0 is an empty slot
	slot := &c.seen[h&uint64(len(c.seen)-1)]
	if slot.Load() == h {
		return true
	}
	slot.Store(h)
	return false
}

// detach returns hits whose captures own their memory.
func detach(hits []Hit) []Hit {
	if len(hits) == 0 {
		return hits
	}
	out := make([]Hit, len(hits))
	for i, h := range hits {
		out[i] = h
		if h.Fields != nil {
			f := make(map[string]string, len(h.Fields))
			for k, v := range h.Fields {
				f[k] = strings.Clone(v)
			}
			out[i].Fields = f
		}
	}
	return out
}

func (c *cache) add(k string, v []Hit) {
	if present, _ := c.lru.ContainsOrAdd(k, v); present {
		return
	}
	c.bytes.Add(entryBytes(k, v))
	for c.bytes.Load() > c.maxBytes && c.lru.Len() > 0 {
		c.lru.RemoveOldest()
	}
}
