// Package docgen keeps the command outputs shown in the project's Markdown
// pages real: a fenced block right after a marker
//
//	<!-- docgen: mqttdiag scan --format text examples/logs/x.log -->
//
// holds "$ COMMAND" (unless the block is ```json) and what the command printed, run by sh in the
// repository's root with the built mqttdiag first on PATH. `make docs`
// rewrites the blocks; a test fails while one is stale. A marker may name
// JSON keys whose values change from run to run (an id made from the
// file's inode, the time of reading), which the staleness check ignores:
//
//	<!-- docgen volatile=id,observed_at: mqttdiag scan --format json x.log -->
//
// It knows nothing of what the commands mean.
package docgen

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

const marker = "<!-- docgen"

// Block is one generated block of a page.
type Block struct {
	Page     string
	Line     int      // of the marker, 1-based
	Command  string   // as the marker gives it
	Volatile []string // JSON keys whose values the staleness check ignores
	Fence    string   // the opening fence, ``` and its language
	Current  string   // the block's text between its fences
}

// Runner runs a block's command and returns what it printed.
type Runner func(command string) (string, error)

// Shell runs commands with sh -c in root, binDir first on PATH, in UTC and
// without colour, and returns its standard output, trailing blanks cut.
func Shell(root, binDir string) Runner {
	return func(command string) (string, error) {
		cmd := exec.Command("sh", "-c", command)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
			"TZ=UTC", "NO_COLOR=1", "LANG=C.UTF-8")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("%s: %w: %s", command, err, errb.String())
		}
		var b strings.Builder
		for _, l := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
			b.WriteString(strings.TrimRight(l, " \t") + "\n")
		}
		return b.String(), nil
	}
}

// Parse returns the generated blocks of a page.
func Parse(page string, data []byte) ([]Block, error) {
	lines := strings.SplitAfter(string(data), "\n")
	var out []Block
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(l, marker) {
			continue
		}
		head, command, ok := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(l, marker), "-->"), ":")
		if !ok {
			return nil, fmt.Errorf("%s:%d: want <!-- docgen: COMMAND -->", page, i+1)
		}
		command = strings.TrimSpace(command)
		var volatile []string
		if v, ok := strings.CutPrefix(strings.TrimSpace(head), "volatile="); ok {
			volatile = strings.Split(v, ",")
		} else if strings.TrimSpace(head) != "" {
			return nil, fmt.Errorf("%s:%d: unknown docgen option %q (want volatile=KEY,...)", page, i+1, head)
		}
		if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "```") {
			return nil, fmt.Errorf("%s:%d: a docgen marker must be followed by a fenced block", page, i+1)
		}
		end := i + 2
		for end < len(lines) && !strings.HasPrefix(lines[end], "```") {
			end++
		}
		if end == len(lines) {
			return nil, fmt.Errorf("%s:%d: the block after the docgen marker is not closed", page, i+1)
		}
		out = append(out, Block{Page: page, Line: i + 1, Command: command, Volatile: volatile, Fence: strings.TrimSpace(lines[i+1]), Current: strings.Join(lines[i+2:end], "")})
		i = end
	}
	return out, nil
}

// Update runs every block's command of the page and returns the page with
// the blocks' new contents, and the blocks whose contents changed.
func Update(page string, data []byte, run Runner) ([]byte, []Block, error) {
	blocks, err := Parse(page, data)
	if err != nil {
		return nil, nil, err
	}
	text := string(data)
	var stale []Block
	for i := len(blocks) - 1; i >= 0; i-- { // from the end: offsets stay valid
		b := blocks[i]
		got, err := run(b.Command)
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %w", page, b.Line, err)
		}
		if b.Fence != "```json" { // a prompt line would make it invalid JSON
			got = "$ " + b.Command + "\n" + got
		}
		if mask(got, b.Volatile) == mask(b.Current, b.Volatile) {
			continue
		}
		stale = append(stale, b)
		lines := strings.SplitAfter(text, "\n")
		start := b.Line + 1 // the line after the opening fence, 0-based
		end := start + strings.Count(b.Current, "\n")
		text = strings.Join(lines[:start], "") + got + strings.Join(lines[end:], "")
	}
	return []byte(text), stale, nil
}

// Pages are the project's Markdown pages under root that may hold blocks.
func Pages(root string) []string {
	pages := []string{filepath.Join(root, "README.md")}
	more, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	return append(pages, more...)
}

// mask blanks the values of the named JSON keys, one per line as
// indented JSON writes them.
func mask(text string, keys []string) string {
	if len(keys) == 0 {
		return text
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		for _, k := range keys {
			t := strings.TrimSpace(l)
			if strings.HasPrefix(t, `"`+k+`":`) {
				lines[i] = `"` + k + `": …`
			}
		}
	}
	return strings.Join(lines, "\n")
}
