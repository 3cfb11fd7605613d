package signatures

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// builtin holds the pack compiled into the binary. It is the only global in
// mqttdiag: data, read-only, and the reason a lone binary is useful.
//
//go:embed builtin
var builtin embed.FS

// Builtin loads the pack embedded in the binary.
func Builtin() ([]*Signature, error) {
	return LoadFS(builtin, "builtin", "builtin:")
}

// Pack is a validated set of signatures with unique ids, in load order.
type Pack struct {
	sigs []*Signature
	byID map[string]*Signature
}

// NewPack joins signature sets into a pack. A duplicate id is an error that
// names both places it was defined.
func NewPack(sets ...[]*Signature) (*Pack, error) {
	p := &Pack{byID: make(map[string]*Signature)}
	var errs []error
	for _, set := range sets {
		for _, s := range set {
			if prev, ok := p.byID[s.ID]; ok {
				errs = append(errs, &Error{File: s.origin.File, Line: s.origin.Line, ID: s.ID, Field: "id",
					Err: fmt.Errorf("duplicate id, first defined at %s:%d; ids must be unique across all loaded packs", prev.origin.File, prev.origin.Line)})
				continue
			}
			p.byID[s.ID] = s
			p.sigs = append(p.sigs, s)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// Signatures returns the pack's signatures in load order. The slice must
// not be modified.
func (p *Pack) Signatures() []*Signature { return p.sigs }

// Len is the number of signatures.
func (p *Pack) Len() int { return len(p.sigs) }

// Lookup returns the signature with the given id.
func (p *Pack) Lookup(id string) (*Signature, bool) {
	s, ok := p.byID[id]
	return s, ok
}

// IDs returns the pack's ids, sorted.
func (p *Pack) IDs() []string {
	ids := make([]string, 0, len(p.sigs))
	for _, s := range p.sigs {
		ids = append(ids, s.ID)
	}
	sort.Strings(ids)
	return ids
}

// Hash is a digest of every signature in the pack (their JSON, in id
// order), so that two hosts, or a host before and after a reload, can tell
// whether they run the same knowledge: 12 hex digits.
func (p *Pack) Hash() string {
	h := sha256.New()
	for _, id := range p.IDs() {
		b, err := json.Marshal(p.byID[id])
		if err != nil { // a decoded signature always encodes
			b = []byte(id)
		}
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:6])
}
