// Command catalogue-mosquitto extracts Mosquitto's log calls from a git
// snapshot of eclipse/mosquitto and merges them into the catalogue
// (signatures/catalogue/mosquitto.jsonl), keeping the dispositions a
// person gave existing entries. It reads the C source of every tag of the
// series it is given through `git`, and writes only what it derives: the
// format strings, their levels, call sites and versions.
//
//	go run ./internal/catalogue/cmd/catalogue-mosquitto \
//	    -git-dir /path/to/mosquitto.git -out signatures/catalogue/mosquitto.jsonl
//
// What counts as a log call, and which are kept, is in the README beside
// the catalogue.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"

	"github.com/mqttdiag/mqttdiag/internal/catalogue"
)

// series maps a release series to the refs scanned for it: every tag
// vX.Y[.Z], or a branch for a series not yet released.
type series struct {
	name string
	tag  *regexp.Regexp // tags of the series; nil when branch is set
	ref  string         // a branch, for an unreleased series
}

func main() {
	gitDir := flag.String("git-dir", "", "git directory of an eclipse/mosquitto snapshot (required)")
	out := flag.String("out", "signatures/catalogue/mosquitto.jsonl", "catalogue to merge into and write")
	develop := flag.String("develop", "develop", "branch scanned as series 2.1 (empty: none)")
	verbose := flag.Bool("v", false, "list the calls that were skipped and why")
	flag.Parse()
	if *gitDir == "" {
		fmt.Fprintln(os.Stderr, "catalogue-mosquitto: -git-dir is required (fetch eclipse/mosquitto first)")
		os.Exit(2)
	}
	all := []series{
		{name: "1.4", tag: regexp.MustCompile(`^v1\.4(\.\d+)?$`)},
		{name: "1.5", tag: regexp.MustCompile(`^v1\.5(\.\d+)?$`)},
		{name: "1.6", tag: regexp.MustCompile(`^v1\.6(\.\d+)?$`)},
		{name: "2.0", tag: regexp.MustCompile(`^v2\.0\.\d+$`)},
	}
	if *develop != "" {
		all = append(all, series{name: "2.1", ref: *develop})
	}
	g := catalogue.NewRepo(*gitDir)
	extracted, skipped, err := extract(g, all)
	if err == nil {
		err = catalogue.Update(*out, extracted, skipped, *verbose, os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "catalogue-mosquitto:", err)
		os.Exit(1)
	}
}

// call is one log call found in one file of one ref.
type call struct {
	format, level string
	file          string
	line          int
}

func extract(g *catalogue.Repo, all []series) ([]catalogue.Entry, []string, error) {
	tags, err := g.Lines("tag", "--list")
	if err != nil {
		return nil, nil, err
	}
	type found struct {
		entry catalogue.Entry
		// newest ref of each series where the format occurs, and its sites
		site map[string]string
		idx  map[string]int // series -> index of that ref in the series
	}
	byFormat := map[string]*found{}
	var skipped []string
	seenSkip := map[string]bool{}
	blobs := map[string][]call{} // blob hash -> calls, so each file version is parsed once
	for _, s := range all {
		refs := []string{s.ref}
		if s.tag != nil {
			refs = nil
			for _, t := range tags {
				if s.tag.MatchString(t) {
					refs = append(refs, t)
				}
			}
			sort.Slice(refs, func(i, j int) bool { return catalogue.TagLess(refs[i], refs[j]) })
		}
		if len(refs) == 0 {
			return nil, nil, fmt.Errorf("no refs for series %s", s.name)
		}
		for ri, ref := range refs {
			files, err := brokerFiles(g, ref)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", ref, err)
			}
			sites := map[string][]string{}
			for _, f := range files {
				calls, ok := blobs[f.Hash]
				if !ok {
					text, err := g.Blob(f.Hash)
					if err != nil {
						return nil, nil, err
					}
					var skips []string
					calls, skips = parse(f.Path, text)
					for _, sk := range skips {
						if !seenSkip[sk] {
							seenSkip[sk] = true
							skipped = append(skipped, sk+" @"+ref)
						}
					}
					blobs[f.Hash] = calls
				}
				for _, c := range calls {
					if !keep(c) {
						continue
					}
					e, ok := byFormat[c.format]
					if !ok {
						e = &found{entry: catalogue.Entry{Format: c.format, Level: c.level}, site: map[string]string{}, idx: map[string]int{}}
						byFormat[c.format] = e
					}
					if e.entry.Level != c.level {
						e.entry.Level = mergeLevel(e.entry.Level, c.level)
					}
					sites[c.format] = append(sites[c.format], fmt.Sprintf("%s:%d@%s", c.file, c.line, ref))
				}
			}
			for f, ss := range sites {
				e := byFormat[f]
				if i, ok := e.idx[s.name]; !ok || ri >= i {
					e.idx[s.name] = ri
					sort.Strings(ss)
					e.site[s.name] = strings.Join(ss, "\x00")
				}
			}
		}
	}
	var out []catalogue.Entry
	for _, f := range byFormat {
		e := f.entry
		for _, s := range all {
			if ss, ok := f.site[s.name]; ok {
				e.Versions = append(e.Versions, s.name)
				e.Sites = append(e.Sites, strings.Split(ss, "\x00")...)
			}
		}
		out = append(out, e)
	}
	return out, skipped, nil
}

// mergeLevel is the level of a format logged at two levels: the more
// severe, since the catalogue asks what the line can mean at worst.
func mergeLevel(a, b string) string {
	rank := map[string]int{"stderr": 0, "error": 1, "warning": 2, "notice": 3, "variable": 4, "information": 5,
		"subscribe": 6, "unsubscribe": 6, "websockets": 7, "debug": 8}
	if rank[b] < rank[a] {
		return b
	}
	return a
}

// levels maps Mosquitto's log priorities to the log_type words that
// enable them.
var levels = map[string]string{
	"MOSQ_LOG_ERR":         "error",
	"MOSQ_LOG_WARNING":     "warning",
	"MOSQ_LOG_NOTICE":      "notice",
	"MOSQ_LOG_INFO":        "information",
	"MOSQ_LOG_DEBUG":       "debug",
	"MOSQ_LOG_SUBSCRIBE":   "subscribe",
	"MOSQ_LOG_UNSUBSCRIBE": "unsubscribe",
	"MOSQ_LOG_WEBSOCKETS":  "websockets",
	"MOSQ_LOG_INTERNAL":    "internal",
}

// faultWords pick, among the information, debug and subscribe calls, those
// that reveal a fault: refusals, denials, drops, protocol errors, and the
// packet lines whose reason code carries a refusal (CONNACK, acks with RC).
var faultWords = regexp.MustCompile(`(?i)den(y|ied)|disconnecting|disconnected[ ,]|not authori[sz]ed|error|fail|invalid|unable|refus|exceed|too (large|long|big)|drop|protocol|malformed|timeout|timed out|expir|unsupported|not supported|bad |dangerous|limit|maximum|out of memory|banned|quota|busy|reject|warning|cannot|can't|unknown|missing|lost|closing|abort|^Sending CONNACK|RC:`)

// keep decides which calls belong in the catalogue: everything at notice
// and above, plain prints to stderr, calls whose level the caller passes
// in, and the lower-level calls that reveal a fault. MOSQ_LOG_INTERNAL is
// left out: no log_type enables it in a release build.
func keep(c call) bool {
	if c.level == "stderr" && c.file == "src/logging.c" && !hasWords(c.format) {
		return false // the log destination writing a whole line: not a message of its own
	}
	switch c.level {
	case "error", "warning", "notice", "stderr", "variable":
		return true
	case "internal":
		return false
	}
	return faultWords.MatchString(c.format)
}

// hasWords tells whether a format has a letter outside its conversions.
func hasWords(format string) bool {
	return regexp.MustCompile(`[A-Za-z]`).MatchString(regexp.MustCompile(`%[-+ #0-9.*hlLqjzt]*[a-zA-Z%]`).ReplaceAllString(format, ""))
}

// brokerFiles lists the C files built into the broker at ref: src/, the
// lib/, common/ and libcommon/ files that src/CMakeLists.txt or
// src/Makefile names, and the plugins that ship (not the examples).
func brokerFiles(g *catalogue.Repo, ref string) ([]catalogue.File, error) {
	tree, err := g.Files(ref)
	if err != nil {
		return nil, err
	}
	var build []byte
	for _, mk := range []string{"src/CMakeLists.txt", "src/Makefile"} {
		b, err := g.Show(ref + ":" + mk)
		if err == nil {
			build = append(build, b...)
		}
	}
	shipped := map[string]bool{"dynamic-security": true, "persist-sqlite": true, "sparkplug-aware": true}
	var out []catalogue.File
	for _, f := range tree {
		p := f.Path
		if !strings.HasSuffix(p, ".c") {
			continue
		}
		dir := strings.SplitN(p, "/", 3)
		ok := false
		switch dir[0] {
		case "src":
			// mosquitto_passwd.c sat in src/ until 2.0 but is a tool of
			// its own, not the broker.
			ok = len(dir) == 2 && path.Base(p) != "mosquitto_passwd.c"
		case "lib", "common":
			ok = len(dir) == 2 && bytes.Contains(build, []byte(path.Base(p)))
		case "libcommon":
			ok = len(dir) == 2
		case "plugins":
			ok = len(dir) == 3 && shipped[dir[1]]
		}
		if ok {
			out = append(out, f)
		}
	}
	return out, nil
}
