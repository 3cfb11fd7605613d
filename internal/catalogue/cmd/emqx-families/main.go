// Command emqx-families writes the regexes and examples of the EMQX family
// signatures (signatures/builtin/emqx/<family>.json and its parts
// <family>-2.json, ...) from the catalogue entries that name them
// (signatures/catalogue/emqx.jsonl).
//
// A family stands for the log calls of one EMQX subsystem. Each call
// becomes one regex branch keyed on fixed text of its own — the report's
// msg, or the longest literal run of the io_lib format — so that the
// matcher's literal prefilter decides, for every line, which branches to
// run (matcher: "a branch no literal can trigger runs on every line"). The
// matcher expands at most 64 branches a signature; a family with more
// calls is split into parts of at most maxBranches branches, which share
// the family's knowledge (the <family>.json file is the template: every
// field but id, regex, source_examples and verification_note is copied).
// A format whose fixed text is shorter than minFixed cannot key a
// prefilter without running on unrelated lines: its entry becomes a gap
// with that reason.
//
//	go run ./internal/catalogue/cmd/emqx-families
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
	"github.com/mqttdiag/mqttdiag/internal/catalogue"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
)

const (
	// maxBranches stays under the matcher's 64 branches a signature.
	maxBranches = 60
	// minFixed is the shortest fixed text a format's branch is keyed on.
	minFixed = 8
)

func main() {
	cat := flag.String("catalogue", "signatures/catalogue/emqx.jsonl", "EMQX catalogue to read and update")
	dir := flag.String("dir", "signatures/builtin/emqx", "directory of the EMQX signatures")
	flag.Parse()
	if err := run(*cat, *dir, os.Stdout); err != nil {
		log.Fatalf("emqx-families: %v", err)
	}
}

func run(catPath, dir string, w io.Writer) error {
	entries, err := catalogue.ReadFile(catPath)
	if err != nil {
		return err
	}
	for _, fam := range catalogue.EMQXFamilies {
		n, gaps, err := writeFamily(entries, fam, dir)
		if err != nil {
			return fmt.Errorf("%s: %w", fam, err)
		}
		fmt.Fprintf(w, "%s: %d part(s), %d new gap(s)\n", fam, n, gaps)
	}
	return catalogue.WriteFile(catPath, entries)
}

type member struct {
	e      *catalogue.Entry
	branch string
}

func writeFamily(entries []catalogue.Entry, fam, dir string) (parts, gaps int, err error) {
	var members []member
	for i := range entries {
		e := &entries[i]
		if e.Disposition != catalogue.Signature || catalogue.EMQXFamilyOf(e.Signature) != fam {
			continue
		}
		br, fixed, err := catalogue.EMQXBranch(*e)
		if err != nil {
			return 0, 0, err
		}
		short := minFixed
		if strings.HasPrefix(e.Format, catalogue.EMQXReport) {
			short = minTrigger // a msg is an identifier: "long_gc" names its event
		}
		if len(fixed) < short {
			e.Disposition, e.Signature = catalogue.Gap, ""
			e.Reason = fmt.Sprintf("of the %s family, but its longest fixed text, %q, is shorter than %d characters: a signature keyed on it would run its regex on unrelated lines (internal/catalogue/cmd/emqx-families)", fam, fixed, short)
			gaps++
			continue
		}
		members = append(members, member{e, br})
	}
	if len(members) == 0 {
		return 0, gaps, errors.New("no catalogue entry names it")
	}
	// Reports first, then formats: round-robin gives every part some of
	// each, and with them a text and a JSON example.
	slices.SortStableFunc(members, func(a, b member) int {
		ra, rb := strings.HasPrefix(a.e.Format, catalogue.EMQXReport), strings.HasPrefix(b.e.Format, catalogue.EMQXReport)
		if ra != rb {
			if ra {
				return -1
			}
			return 1
		}
		return strings.Compare(a.e.Format, b.e.Format)
	})
	parts = (len(members) + maxBranches - 1) / maxBranches
	byPart := make([][]member, parts)
	for i, m := range members {
		byPart[i%parts] = append(byPart[i%parts], m)
	}
	base := filepath.Join(dir, strings.TrimPrefix(fam, "emqx/")+".json")
	tmpl, err := readObject(base)
	if err != nil {
		return 0, 0, err
	}
	for k, ms := range byPart {
		id, path := partID(fam, k), base
		if k > 0 {
			path = filepath.Join(dir, strings.TrimPrefix(id, "emqx/")+".json")
		}
		var others []string
		for j := range parts {
			if j != k {
				others = append(others, partID(fam, j))
			}
		}
		if err := writePart(tmpl, id, path, k+1, parts, ms, others); err != nil {
			return 0, 0, fmt.Errorf("%s: %w", id, err)
		}
	}
	// Parts of an earlier, larger split.
	for k := parts + 1; ; k++ {
		path := filepath.Join(dir, fmt.Sprintf("%s-%d.json", strings.TrimPrefix(fam, "emqx/"), k))
		if err := os.Remove(path); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				break
			}
			return 0, 0, err
		}
	}
	return parts, gaps, nil
}

// partID is the id of part k (from 0) of a family.
func partID(fam string, k int) string {
	if k == 0 {
		return fam
	}
	return fmt.Sprintf("%s-%d", fam, k+1)
}

// writePart writes part k of n; others are the other parts' ids, which it
// names as frequently confused with it: a generic format of the family
// (say "Failed to start ~s listener on ~s") matches the lines of a
// specific one that round-robin put in another part.
func writePart(tmpl []field, id, path string, k, n int, ms []member, others []string) error {
	branches := make([]string, len(ms))
	for i, m := range ms {
		branches[i] = m.branch
		m.e.Signature = id
	}
	rx := strings.Join(branches, "|")
	re, err := regexp.Compile(rx)
	if err != nil {
		return err
	}
	matches := func(line string) bool {
		msg, _, _ := brokerlog.Split(line)
		return re.MatchString(msg)
	}
	// Examples: the first report in 5.x text and JSON, the first format
	// in each of its layouts; every rendered line of a member must match.
	var examples, sites []string
	var report, format bool
	for _, m := range ms {
		lines, err := catalogue.RenderEMQX(*m.e)
		if err != nil {
			return err
		}
		var hit []string
		for _, l := range lines {
			if matches(l) {
				hit = append(hit, l)
			}
		}
		if len(hit) == 0 {
			return fmt.Errorf("%q: no rendered line matches its branch %s: %q", m.e.Format, m.branch, lines)
		}
		isReport := strings.HasPrefix(m.e.Format, catalogue.EMQXReport)
		switch {
		case isReport && !report && len(hit) >= 2 && slices.ContainsFunc(m.e.Versions, func(v string) bool { return strings.HasPrefix(v, "5.") }):
			report = true
			examples = append(examples, hit[0], hit[1])
		case !isReport && !format:
			format = true
			examples = append(examples, hit...)
		default:
			continue
		}
		sites = append(sites, m.e.Sites[len(m.e.Sites)-1])
	}
	if !report {
		return errors.New("no 5.x report among its entries: no JSON example")
	}
	part := ""
	if n > 1 {
		part = fmt.Sprintf(" It is part %d of %d of its family, split so that no signature has more than %d regex branches (the matcher expands at most 64 a signature); the parts share the family's knowledge.", k, n, maxBranches)
	}
	note := fmt.Sprintf("EMQX cannot run here; no line was provoked. The signature stands for the %d log calls that signatures/catalogue/emqx.jsonl gives this id (extracted from emqx/emqx release tags by internal/catalogue/cmd/catalogue-emqx); its regex has one branch a call, keyed on the call's report msg or on the fixed text of its io_lib format, and is written by internal/catalogue/cmd/emqx-families.%s The examples are lines rendered from the catalogue entries of %s in EMQX's text and JSON layouts (catalogue.RenderEMQX), not captured.",
		len(ms), part, strings.Join(sites, "; "))

	out := slices.Clone(tmpl)
	set := func(key string, v any) error {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return err
		}
		for i := range out {
			if out[i].key == key {
				out[i].val = bytes.TrimSpace(b.Bytes())
				return nil
			}
		}
		return fmt.Errorf("template has no field %s", key)
	}
	var graph map[string]json.RawMessage
	for _, f := range tmpl {
		if f.key == "transition_graph" {
			if err := json.Unmarshal(f.val, &graph); err != nil {
				return err
			}
		}
	}
	var confused []string
	if err := json.Unmarshal(graph["frequently_confused_with"], &confused); err != nil {
		return fmt.Errorf("transition_graph.frequently_confused_with: %w", err)
	}
	// The template is part 1's file, which names the other parts: drop
	// this part's own id so that a second run writes the same files.
	confused = slices.DeleteFunc(confused, func(c string) bool { return c == id })
	for _, o := range others {
		if !slices.Contains(confused, o) {
			confused = append(confused, o)
		}
	}
	cb, err := json.Marshal(confused)
	if err != nil {
		return err
	}
	graph["frequently_confused_with"] = cb
	for _, kv := range []struct {
		k string
		v any
	}{{"id", id}, {"regex", rx}, {"source_examples", examples}, {"verification_note", note}, {"transition_graph", orderedGraph(graph)}} {
		if err := set(kv.k, kv.v); err != nil {
			return err
		}
	}
	b, err := writeObject(out)
	if err != nil {
		return err
	}
	if err := check(b, path, len(ms)); err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// check loads the written signature and proves what the split is for:
// the matcher keys every branch on a literal of at least minTrigger
// bytes, and none runs on every line.
func check(b []byte, path string, branches int) error {
	sigs, err := signatures.Parse(path, b)
	if err != nil {
		return err
	}
	m, err := matcher.New(sigs)
	if err != nil {
		return err
	}
	c := m.Costs()[0]
	if c.AlwaysRun || len(c.Branches) != branches {
		return fmt.Errorf("matcher makes %d branches of %d calls (always-run %v)", len(c.Branches), branches, c.AlwaysRun)
	}
	for _, br := range c.Branches {
		for _, t := range br.Triggers {
			if len(t) < minTrigger {
				return fmt.Errorf("a branch is keyed on %q, shorter than %d bytes", t, minTrigger)
			}
		}
	}
	return nil
}

// minTrigger is the shortest literal the matcher may key a branch on.
const minTrigger = 6

// field is one key of a JSON object, in file order.
type field struct {
	key string
	val json.RawMessage
}

func readObject(path string) ([]field, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("%s: want a JSON object", path)
	}
	var out []field
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, field{t.(string), v})
	}
	return out, nil
}

// writeObject writes fields as the pack's files are written: two-space
// indent, non-ASCII and <>& as they are.
func writeObject(fs []field) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, f := range fs {
		k, _ := json.Marshal(f.key)
		var v bytes.Buffer
		if err := json.Indent(&v, f.val, "  ", "  "); err != nil {
			return nil, err
		}
		b.WriteString("  " + string(k) + ": ")
		b.Write(v.Bytes())
		if i < len(fs)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// orderedGraph keeps the schema's key order of a transition_graph.
func orderedGraph(g map[string]json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for _, k := range []string{"leads_to", "preceded_by", "frequently_confused_with"} {
		v, ok := g[k]
		if !ok {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes()
}
