// Command catalogue-emqx extracts EMQX's log calls from a git snapshot of
// emqx/emqx and merges them into the catalogue
// (signatures/catalogue/emqx.jsonl), keeping the dispositions a person
// gave existing entries. It reads the Erlang source of every release tag
// of the series it scans (4.2-4.4, 5.0-5.8) through `git`, and writes
// only what it derives: formats and msgs, their levels, call sites and
// versions.
//
//	go run ./internal/catalogue/cmd/catalogue-emqx \
//	    -git-dir /path/to/emqx.git -out signatures/catalogue/emqx.jsonl
//
// What counts as a log call, and which are kept, is in
// signatures/catalogue/README.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/mqttdiag/mqttdiag/internal/catalogue"
)

// seriesList are the release series scanned: every final release tag
// vX.Y.Z of each (no -alpha, -beta, -rc, -patch or -build tags).
var seriesList = []string{"4.2", "4.3", "4.4", "5.0", "5.1", "5.2", "5.3", "5.4", "5.5", "5.6", "5.7", "5.8"}

func main() {
	gitDir := flag.String("git-dir", "", "git directory of an emqx/emqx snapshot (required)")
	out := flag.String("out", "signatures/catalogue/emqx.jsonl", "catalogue to merge into and write")
	verbose := flag.Bool("v", false, "list the calls that were skipped and why")
	flag.Parse()
	if *gitDir == "" {
		fmt.Fprintln(os.Stderr, "catalogue-emqx: -git-dir is required (fetch emqx/emqx first)")
		os.Exit(2)
	}
	g := catalogue.NewRepo(*gitDir)
	extracted, skipped, err := extract(g)
	if err == nil {
		err = catalogue.Update(*out, extracted, skipped, *verbose, os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "catalogue-emqx:", err)
		os.Exit(1)
	}
}

// key is what makes two calls one entry: the same format string, or the
// same report msg. A report's msg is written "msg: <msg>" in Format, as
// EMQX 5's text formatter prints it, so that it can never be taken for a
// format string (catalogue README).
func key(c call) string {
	if c.style == "report" {
		return "msg: " + c.format
	}
	return c.format
}

func extract(g *catalogue.Repo) ([]catalogue.Entry, []string, error) {
	tags, err := g.Lines("tag", "--list")
	if err != nil {
		return nil, nil, err
	}
	type found struct {
		entry catalogue.Entry
		site  map[string]string // series -> sites at its newest tag holding the entry
		idx   map[string]int    // series -> index of that tag in the series
	}
	byKey := map[string]*found{}
	var skipped []string
	seenSkip := map[string]bool{}
	type parsed struct {
		calls []call
		skips []skip
	}
	blobs := map[string]parsed{}
	lexed := map[string][]token{} // .hrl blob hash -> tokens
	release := regexp.MustCompile(`^v(\d+\.\d+)\.\d+$`)
	for _, s := range seriesList {
		var refs []string
		for _, t := range tags {
			if m := release.FindStringSubmatch(t); m != nil && m[1] == s {
				refs = append(refs, t)
			}
		}
		sort.Slice(refs, func(i, j int) bool { return catalogue.TagLess(refs[i], refs[j]) })
		if len(refs) == 0 {
			return nil, nil, fmt.Errorf("no release tags for series %s", s)
		}
		for ri, ref := range refs {
			files, hrl, err := brokerFiles(g, ref)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", ref, err)
			}
			includes := func(base string) []token {
				h, ok := hrl[base]
				if !ok {
					return nil
				}
				if ts, ok := lexed[h]; ok {
					return ts
				}
				text, err := g.Blob(h)
				if err != nil {
					return nil
				}
				lexed[h] = lex(string(text))
				return lexed[h]
			}
			sites := map[string][]string{}
			for _, f := range files {
				p, ok := blobs[f.Hash]
				if !ok {
					text, err := g.Blob(f.Hash)
					if err != nil {
						return nil, nil, err
					}
					p.calls, p.skips = parseErlang(f.Path, string(text), includes)
					blobs[f.Hash] = p
				}
				for _, sk := range p.skips {
					k := fmt.Sprintf("%s:%d %s", sk.file, sk.line, sk.why)
					if !seenSkip[k] {
						seenSkip[k] = true
						skipped = append(skipped, k+" @"+ref)
					}
				}
				for _, c := range p.calls {
					c.file = f.Path
					if !keep(c) {
						continue
					}
					k := key(c)
					e, ok := byKey[k]
					if !ok {
						e = &found{entry: catalogue.Entry{Format: k, Level: c.level}, site: map[string]string{}, idx: map[string]int{}}
						byKey[k] = e
					}
					e.entry.Level = mergeLevel(e.entry.Level, c.level)
					sites[k] = append(sites[k], fmt.Sprintf("%s:%d@%s", c.file, c.line, ref))
				}
			}
			for k, ss := range sites {
				e := byKey[k]
				if i, ok := e.idx[s]; !ok || ri >= i {
					e.idx[s] = ri
					sort.Strings(ss)
					e.site[s] = strings.Join(dedup(ss), "\x00")
				}
			}
		}
	}
	var out []catalogue.Entry
	for _, f := range byKey {
		e := f.entry
		for _, s := range seriesList {
			if ss, ok := f.site[s]; ok {
				e.Versions = append(e.Versions, s)
				e.Sites = append(e.Sites, strings.Split(ss, "\x00")...)
			}
		}
		out = append(out, e)
	}
	return out, skipped, nil
}

func dedup(ss []string) []string {
	out := ss[:0]
	for i, s := range ss {
		if i == 0 || s != ss[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// levelRank orders levels most severe first; a format logged at two
// levels takes the more severe, since the catalogue asks what the line
// can mean at worst.
var levelRank = map[string]int{"emergency": 0, "alert": 1, "critical": 2, "stderr": 3, "error": 4, "warning": 5,
	"notice": 6, "variable": 7, "info": 8, "debug": 9}

func mergeLevel(a, b string) string {
	if levelRank[b] < levelRank[a] {
		return b
	}
	return a
}

// faultWords pick, among the info and debug calls, those that reveal a
// fault: denials, refusals, drops, reason codes, protocol errors.
var faultWords = regexp.MustCompile(`(?i)den(y|ied)|not[_ ]?authori[sz]ed|permission|refus|reject|forbid|banned|` +
	`error|fail|invalid|illegal|malformed|bad[_ ]|unexpected|unknown|unsupported|not[_ ]supported|` +
	`exceed|too[_ ](large|long|big|many)|overflow|full|drop|discard|quota|limit|` +
	`timeout|timed[_ ]out|expire|crash|abort|kick|takeover|takenover|conflict|` +
	`reason[_ ]?code|\bRC\b|disconnect|terminat|shutdown|closed|lost|unreachable|down|` +
	`cannot|can't|could not|unable|missing|not[_ ]found|no[_ ]such`)

// packetTrace matches the debug lines that print an MQTT packet, whose
// reason codes tell a refusal: 4.x "[MQTT] SEND ~s" and 5.x's
// mqtt_packet_sent / mqtt_packet_received trace events.
var packetTrace = regexp.MustCompile(`^(?:\[[^]]*\] )?(?:SEND|RECV) |^mqtt_packet_(?:sent|received)$`)

// keep decides which calls belong in the catalogue: everything at notice
// and above, prints to stderr, calls whose level the caller passes in,
// and the info and debug calls that reveal a fault or print a packet.
func keep(c call) bool {
	switch c.level {
	case "emergency", "alert", "critical", "error", "warning", "notice", "stderr", "variable":
		return true
	}
	return faultWords.MatchString(c.format) || packetTrace.MatchString(c.format)
}

// brokerFiles lists the Erlang source built into a release at ref: every
// .erl file outside test suites, test helpers, examples and build
// scripts; and the .hrl files by base name, for LOG macros defined there.
func brokerFiles(g *catalogue.Repo, ref string) ([]catalogue.File, map[string]string, error) {
	tree, err := g.Files(ref)
	if err != nil {
		return nil, nil, err
	}
	var out []catalogue.File
	hrl := map[string]string{}
	for _, f := range tree {
		if !shipped(f.Path) {
			continue
		}
		switch {
		case strings.HasSuffix(f.Path, ".erl"):
			out = append(out, f)
		case strings.HasSuffix(f.Path, ".hrl"):
			hrl[path.Base(f.Path)] = f.Hash
		}
	}
	return out, hrl, nil
}

// shipped reports whether a source path is part of a release rather than
// its tests, examples or tooling.
func shipped(p string) bool {
	for _, d := range strings.Split(path.Dir(p), "/") {
		switch d {
		case "test", "tests", "integration_test", "examples", "example", "scripts", "dev", "build", ".ci", "bin", "deploy", "rel", "mix", "sample", "samples":
			return false
		}
	}
	b := path.Base(p)
	if path.Dir(p) == "." {
		return false // rebar.config.erl and other build scripts
	}
	return !strings.HasSuffix(b, "_SUITE.erl") && !strings.HasSuffix(b, "_tests.erl") && !strings.HasSuffix(b, "_test.erl") &&
		!strings.HasPrefix(b, "prop_") && !strings.HasSuffix(b, "_proper.erl")
}
