package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/mqttdiag/mqttdiag/internal/testutil/docgen"
)

// TestDocCommands checks every mqttdiag command line in the code blocks of
// README.md and docs/*.md against the command tree, as TestExamples does
// for the deployment examples: a page that shows a command, flag or
// MQTTDIAG_* variable mqttdiag does not have fails the suite.
func TestDocCommands(t *testing.T) {
	pages, _ := filepath.Glob("../../docs/*.md")
	pages = append([]string{"../../README.md"}, pages...)
	total := 0
	for _, page := range pages {
		invs, err := docInvocations(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, inv := range invs {
			checkInvocation(t, inv)
		}
		total += len(invs)
		t.Logf("%s: %d mqttdiag command lines", page, len(invs))
	}
	if total < 20 {
		t.Fatalf("found %d mqttdiag command lines in %v; the parser lost them", total, pages)
	}
}

var inlineCode = regexp.MustCompile("`([^`]+)`")

// docInvocations returns the mqttdiag command lines in the fenced code
// blocks of a Markdown file: after an optional "$ " prompt, environment
// assignments or a pipe, with "\" continuations joined, up to the first
// shell operator.
func docInvocations(page string) ([]invocation, error) {
	f, err := os.Open(page)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []invocation
	in := false
	sc := bufio.NewScanner(f)
	n := 0
	var cont string
	contLine := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			in = !in
			cont = ""
			continue
		}
		if !in {
			// inline code: `mqttdiag run ...`, `journalctl ... \| mqttdiag run -`
			for _, m := range inlineCode.FindAllStringSubmatch(line, -1) {
				if !strings.Contains(m[1], "mqttdiag ") {
					continue
				}
				if inv, ok := parseDocLine(strings.ReplaceAll(m[1], `\|`, "|")); ok {
					inv.where = page + ":" + strconv.Itoa(n)
					out = append(out, inv)
				}
			}
			continue
		}
		start := n
		if cont != "" {
			line = cont + " " + strings.TrimSpace(line)
			start = contLine
			cont = ""
		}
		if strings.HasSuffix(line, "\\") {
			cont, contLine = strings.TrimSuffix(line, "\\"), start
			continue
		}
		if inv, ok := parseDocLine(line); ok {
			inv.where = page + ":" + strconv.Itoa(start)
			out = append(out, inv)
		}
	}
	return out, sc.Err()
}

// parseDocLine finds "mqttdiag ARGS" in one shell line of a page. Lines
// that are not commands (output, usage tables with [flags]) are skipped.
func parseDocLine(line string) (invocation, bool) {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "$ ")
	if strings.HasPrefix(line, "#") {
		return invocation{}, false
	}
	words := shellWords(line)
	var env []string
	for i, w := range words {
		if w == "|" {
			env = nil
			continue
		}
		if k, _, ok := strings.Cut(w, "="); ok && isEnvName(k) {
			env = append(env, k)
			continue
		}
		if w != "mqttdiag" {
			// a command before a pipe, or not a command line at all
			if i == 0 || words[i-1] != "|" {
				env = nil
			}
			continue
		}
		var args []string
		for _, a := range words[i+1:] {
			if a == "|" || a == ";" || a == "&&" || a == "||" || a == "#" ||
				strings.HasPrefix(a, ">") || strings.HasPrefix(a, "2>") || strings.HasPrefix(a, "<") {
				break
			}
			args = append(args, a)
		}
		if len(args) == 0 || strings.HasPrefix(args[0], "[") || slices.Contains(args, "[flags]") {
			return invocation{}, false
		}
		return invocation{args: args, env: mqttdiagEnv(toSet(env))}, true
	}
	return invocation{}, false
}

func isEnvName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func toSet(list []string) map[string]string {
	m := map[string]string{}
	for _, k := range list {
		m[k] = ""
	}
	return m
}

// shellWords splits a line as a POSIX shell would, for the simple forms
// the pages use: single and double quotes, and "|" as its own word.
func shellWords(s string) []string {
	var words []string
	var b strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				b.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, b.String())
				b.Reset()
				inWord = false
			}
		case r == '|' && !inWord:
			words = append(words, "|")
		default:
			b.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, b.String())
	}
	return words
}

// TestDocLinks fails on a relative link in README.md or docs/*.md whose
// file does not exist or whose #anchor names no heading of that file, as
// GitHub makes anchors: lower case, punctuation dropped, spaces as "-".
func TestDocLinks(t *testing.T) {
	pages, _ := filepath.Glob("../../docs/*.md")
	pages = append([]string{"../../README.md"}, pages...)
	link := regexp.MustCompile(`\[[^\]]*\]\(([^)\s]+)\)`)
	checked := 0
	for _, page := range pages {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(data), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			file := page
			if path != "" {
				file = filepath.Join(filepath.Dir(page), path)
				if _, err := os.Stat(file); err != nil {
					t.Errorf("%s: link %s: %v", page, target, err)
					continue
				}
			}
			checked++
			if anchor == "" || !strings.HasSuffix(file, ".md") {
				continue
			}
			if !headingAnchors(t, file)[anchor] {
				t.Errorf("%s: link %s: no heading of %s has the anchor #%s", page, target, file, anchor)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("checked %d links; the parser lost them", checked)
	}
}

func headingAnchors(t *testing.T, file string) map[string]bool {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	fence := false
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "```") {
			fence = !fence
		}
		h := strings.TrimLeft(l, "#")
		if fence || h == l || !strings.HasPrefix(h, " ") {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(h)) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		out[b.String()] = true
	}
	return out
}

// TestDocOutputs runs the commands of the pages' generated blocks (package
// docgen) with this tree's binary and fails while a block shows other
// output than they print now: `make docs` writes them again.
func TestDocOutputs(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "mqttdiag")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	run := docgen.Shell("../..", dir)
	n := 0
	for _, page := range docgen.Pages("../..") {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		blocks, err := docgen.Parse(page, data)
		if err != nil {
			t.Fatal(err)
		}
		n += len(blocks)
		_, stale, err := docgen.Update(page, data, run)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range stale {
			t.Errorf("%s:%d: the output of %q changed: run `make docs`", b.Page, b.Line, b.Command)
		}
	}
	if n < 3 {
		t.Fatalf("found %d generated blocks; the parser lost them", n)
	}
}
