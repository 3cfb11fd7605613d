// Command genfreq writes the matcher's generated tables from what the
// repository holds:
//
//   - freq_table.txt: for every normalised 1-, 2- and 3-gram, the broker
//     log lines per million that contain it;
//   - lead_table.go: which UTF-8 lead bytes case folding links, from Go's
//     Unicode tables.
//
// The n-grams are counted over two inputs, pooled line by line: the
// captures in examples/logs, and traffic_ngrams.txt, the same counts over
// 300,000 lines of modelled broker traffic (internal/testutil/loggen,
// written by this package's test). The captures alone are too few (4,500
// lines) to rate the words of client ids and topics: a table from them
// alone made the benchmark corpus run 25 times more regexes a line.
//
// Each line's timestamp is stripped and the message normalised as the
// matcher's automaton reads it (ASCII lowercased, the Kelvin sign as k,
// the long s as s, any other non-ASCII byte as 0x80). The output is a
// function of the inputs: the test regenerates it and fails when the
// committed files differ.
//
//	go generate ./matcher
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
)

// floor is the lowest rate kept, per million lines; rarer n-grams are left
// out and the matcher takes them as half of it.
const floor = 10

func main() {
	examples := flag.String("examples", "../examples/logs", "directory of the broker log captures kept in the repository (*.log)")
	traffic := flag.String("traffic", "internal/genfreq/traffic_ngrams.txt", "n-gram counts of modelled traffic")
	out := flag.String("out", ".", "directory to write freq_table.txt and lead_table.go into")
	flag.Parse()
	files, err := generate(*examples, *traffic)
	if err != nil {
		log.Fatalf("genfreq: %v", err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(*out, f.name), f.data, 0o644); err != nil {
			log.Fatalf("genfreq: %v", err)
		}
	}
}

type file struct {
	name string
	data []byte
}

// generate returns the generated files, from the *.log files in examples
// and the counts file traffic.
func generate(examples, traffic string) ([]file, error) {
	paths, err := filepath.Glob(filepath.Join(examples, "*.log"))
	if err != nil || len(paths) == 0 {
		return nil, fmt.Errorf("no *.log in %s: give the repository's examples/logs with -examples", examples)
	}
	slices.Sort(paths)
	c := newCounts()
	var sources []string
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		before := c.lines
		c.Write(data)
		c.Flush()
		sources = append(sources, fmt.Sprintf("%s (%d lines)", filepath.Base(p), c.lines-before))
	}
	data, err := os.ReadFile(traffic)
	if err != nil {
		return nil, fmt.Errorf("%w (written by `go test ./matcher/internal/genfreq -run TestTrafficCounts -update`)", err)
	}
	src, err := c.read(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", traffic, err)
	}
	leads, err := leadTable()
	if err != nil {
		return nil, err
	}
	return []file{
		{"freq_table.txt", c.rates("examples/logs (" + strings.Join(sources, ", ") + ") and " + src)},
		{"lead_table.go", leads},
	}, nil
}

// alphabet is the number of normalised bytes: ASCII, and 0x80 standing for
// every other byte.
const alphabet = 129

// counts holds, for every normalised 1-, 2- and 3-gram, the lines that
// contain it, in a dense table indexed by length then bytes (see index).
type counts struct {
	lines   int
	n       []int32
	last    []int32 // by n-gram: the line that counted it last, 1-based
	norm    []byte
	partial []byte // Write's line so far
}

// Where the 1-, 2- and 3-grams start in counts' table, and its size.
const (
	off2 = alphabet
	off3 = off2 + alphabet*alphabet
	size = off3 + alphabet*alphabet*alphabet
)

func newCounts() *counts {
	return &counts{n: make([]int32, size), last: make([]int32, size)}
}

// index of the n-gram g of normalised bytes.
func index(g []byte) int {
	i := 0
	for _, c := range g {
		i = i*alphabet + int(c)
	}
	return [...]int{0, 0, off2, off3}[len(g)] + i
}

// gram is the n-gram at index i: the inverse of index.
func gram(i int) []byte {
	n := 1
	switch {
	case i >= off3:
		n, i = 3, i-off3
	case i >= off2:
		n, i = 2, i-off2
	}
	g := make([]byte, n)
	for k := n - 1; k >= 0; k-- {
		g[k] = byte(i % alphabet)
		i /= alphabet
	}
	return g
}

// Write counts the non-empty lines of a log written to c: complete lines at once,
// a partial one when the rest arrives. Flush counts a last partial line.
func (c *counts) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.partial = append(c.partial, p...)
			break
		}
		line := p[:i]
		if len(c.partial) > 0 {
			c.partial = append(c.partial, line...)
			line = c.partial
		}
		if len(line) > 0 {
			c.addLine(string(line))
		}
		c.partial, p = c.partial[:0], p[i+1:]
	}
	return n, nil
}

// Flush counts what Write holds of a line without its newline.
func (c *counts) Flush() {
	if len(c.partial) > 0 {
		c.addLine(string(c.partial))
		c.partial = c.partial[:0]
	}
}

// addLine counts the n-grams of one line's message, each once.
func (c *counts) addLine(line string) {
	c.lines++
	msg, _, _ := brokerlog.Split(line)
	c.norm = normalize(c.norm[:0], msg)
	id := int32(c.lines)
	for size := 1; size <= 3; size++ {
		for i := 0; i+size <= len(c.norm); i++ {
			k := index(c.norm[i : i+size])
			if c.last[k] != id {
				c.last[k] = id
				c.n[k]++
			}
		}
	}
}

// normalize appends to dst the matcher's normalisation of s
// (matcher/literal.go), with every non-ASCII byte as 0x80, as the
// matcher's frequency reads it.
func normalize(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			dst = append(dst, c+'a'-'A')
		case strings.HasPrefix(s[i:], "\u212A"):
			dst = append(dst, 'k')
			i += 2
		case strings.HasPrefix(s[i:], "\u017F"):
			dst = append(dst, 's')
			i++
		case c >= 0x80:
			dst = append(dst, 0x80)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// write formats the counts as traffic_ngrams.txt: a header, "lines N",
// then every n-gram that occurs, Go-quoted, and its count.
func (c *counts) write(source string) []byte {
	var b bytes.Buffer
	b.WriteString("# Code generated by genfreq's test; DO NOT EDIT.\n")
	b.WriteString("#\n# Lines that contain each 1-, 2- and 3-gram of the normalised message\n")
	b.WriteString("# (timestamp stripped, ASCII lowercased, other bytes as \\x80).\n")
	fmt.Fprintf(&b, "source %s\nlines %d\n", source, c.lines)
	for i, n := range c.n {
		if n > 0 {
			fmt.Fprintf(&b, "%s %d\n", strconv.Quote(string(gram(i))), n)
		}
	}
	return b.Bytes()
}

// read adds the counts of a file that write wrote, and returns its source
// with its line count.
func (c *counts) read(data []byte) (string, error) {
	var source string
	lines := -1
	for n, line := range strings.Split(string(data), "\n") {
		n++
		if line == "" || line[0] == '#' {
			continue
		}
		if s, ok := strings.CutPrefix(line, "source "); ok {
			source = s
			continue
		}
		if s, ok := strings.CutPrefix(line, "lines "); ok {
			v, err := strconv.Atoi(s)
			if err != nil || v <= 0 {
				return "", fmt.Errorf("line %d: lines: want a positive count, got %q", n, s)
			}
			lines = v
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			return "", fmt.Errorf("line %d: want a quoted n-gram and a count: %q", n, line)
		}
		g, err := strconv.Unquote(line[:sp])
		if err != nil || len(g) < 1 || len(g) > 3 || !normalised(g) {
			return "", fmt.Errorf("line %d: n-gram %s: want a Go string of 1 to 3 normalised bytes", n, line[:sp])
		}
		v, err := strconv.ParseInt(line[sp+1:], 10, 32)
		if err != nil || v < 0 {
			return "", fmt.Errorf("line %d: count: want a non-negative number, got %q", n, line[sp+1:])
		}
		c.n[index([]byte(g))] += int32(v)
	}
	if lines < 0 || source == "" {
		return "", fmt.Errorf("no source or lines line")
	}
	c.lines += lines
	return fmt.Sprintf("%s (%d lines)", source, lines), nil
}

// normalised reports whether g holds only bytes normalize writes.
func normalised(g string) bool {
	for i := 0; i < len(g); i++ {
		if g[i] > 0x80 {
			return false
		}
	}
	return true
}

// rates formats the table the matcher parses (matcher/freq.go): n-grams
// in order of length, then bytes, each Go-quoted, and its rate.
func (c *counts) rates(sources string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Code generated by genfreq from %s; DO NOT EDIT.\n", sources)
	b.WriteString("#\n# Broker log lines per million that contain each 1-, 2- and 3-gram of the\n")
	b.WriteString("# normalised message (timestamp stripped, ASCII lowercased, other bytes as\n")
	b.WriteString("# \\x80). N-grams rarer than the floor are left out.\n")
	fmt.Fprintf(&b, "floor %d\n", floor)
	for i, n := range c.n {
		if r := int(1e6 * float64(n) / float64(c.lines)); n > 0 && r >= floor {
			fmt.Fprintf(&b, "%s %d\n", strconv.Quote(string(gram(i))), r)
		}
	}
	return b.Bytes()
}

// leadTable writes lead_table.go.
func leadTable() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("// Code generated by genfreq; DO NOT EDIT.\n\n")
	b.WriteString("package matcher\n\n")
	b.WriteString("// leadGroup maps a UTF-8 lead byte (0xC0 + index) to the smallest lead\n")
	b.WriteString("// byte it shares a simple-folding orbit with (orbits whose runes have one\n")
	b.WriteString("// UTF-8 length only), so that the automaton can fold case within a script\n")
	b.WriteString("// by lead byte. Read-only; see literal.go.\n")
	b.WriteString("var leadGroup = [64]byte{")
	for i, g := range leadGroups() {
		if i%8 == 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "0x%02X, ", g)
	}
	b.WriteString("\n}\n")
	return format.Source(b.Bytes())
}

// leadGroups unites the lead bytes of the runes of each simple-folding
// orbit whose runes all have the same UTF-8 length and no ASCII member,
// and maps each lead byte to its group's smallest.
func leadGroups() [64]byte {
	var parent [64]int
	for i := range parent {
		parent[i] = i
	}
	find := func(i int) int {
		for parent[i] != i {
			i = parent[i]
		}
		return i
	}
	var buf [utf8.UTFMax]byte
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		f := unicode.SimpleFold(r)
		if f == r || !utf8.ValidRune(r) {
			continue
		}
		n := utf8.EncodeRune(buf[:], r)
		lead := int(buf[0]) - 0xC0
		same := true
		for g := f; g != r; g = unicode.SimpleFold(g) {
			if g < utf8.RuneSelf || utf8.RuneLen(g) != n {
				same = false
			}
		}
		if !same {
			continue
		}
		for g := f; g != r; g = unicode.SimpleFold(g) {
			utf8.EncodeRune(buf[:], g)
			a, b := find(lead), find(int(buf[0])-0xC0)
			if a != b {
				parent[max(a, b)] = min(a, b)
			}
		}
	}
	var out [64]byte
	for i := range out {
		out[i] = byte(0xC0 + find(i))
	}
	return out
}
