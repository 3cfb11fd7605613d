package catalogue

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"strconv"
	"strings"
)

// Repo reads a git directory with the git command, for the extractors
// under cmd/ that read a broker's source at its release tags.
type Repo struct {
	dir   string
	batch *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
}

// NewRepo reads the git directory dir (a bare clone or a .git).
func NewRepo(dir string) *Repo { return &Repo{dir: dir} }

func (g *Repo) git(args ...string) *exec.Cmd {
	return exec.Command("git", append([]string{"--git-dir", g.dir}, args...)...)
}

// Lines runs git with args and returns its output's lines.
func (g *Repo) Lines(args ...string) ([]string, error) {
	b, err := g.git(args...).Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n"), nil
}

// File is a file of a git tree: its path and its blob's hash.
type File struct{ Path, Hash string }

// Files lists the files of the tree at ref and of all its subtrees.
func (g *Repo) Files(ref string) ([]File, error) {
	ls, err := g.Lines("ls-tree", "-r", ref)
	if err != nil {
		return nil, err
	}
	var out []File
	for _, l := range ls {
		// "<mode> blob <hash>\t<path>"
		tab := strings.IndexByte(l, '\t')
		if tab < 0 {
			continue
		}
		meta, p := strings.Fields(l[:tab]), l[tab+1:]
		if len(meta) == 3 && meta[1] == "blob" {
			out = append(out, File{Path: p, Hash: meta[2]})
		}
	}
	return out, nil
}

// Show returns the content of obj (e.g. "v2.0.18:src/Makefile").
func (g *Repo) Show(obj string) ([]byte, error) { return g.git("cat-file", "-p", obj).Output() }

// Blob reads one object through a long-running `git cat-file --batch`.
func (g *Repo) Blob(hash string) ([]byte, error) {
	if g.batch == nil {
		g.batch = g.git("cat-file", "--batch")
		var err error
		if g.in, err = g.batch.StdinPipe(); err != nil {
			return nil, err
		}
		stdout, err := g.batch.StdoutPipe()
		if err != nil {
			return nil, err
		}
		g.out = bufio.NewReader(stdout)
		if err := g.batch.Start(); err != nil {
			return nil, fmt.Errorf("git cat-file --batch: %w", err)
		}
	}
	if _, err := fmt.Fprintln(g.in, hash); err != nil {
		return nil, err
	}
	head, err := g.out.ReadString('\n')
	if err != nil {
		return nil, err
	}
	f := strings.Fields(head)
	if len(f) != 3 {
		return nil, fmt.Errorf("git cat-file: %q", head)
	}
	n, err := strconv.Atoi(f[2])
	if err != nil {
		return nil, fmt.Errorf("git cat-file: %q", head)
	}
	buf := make([]byte, n+1) // the object and its trailing newline
	if _, err := io.ReadFull(g.out, buf); err != nil {
		return nil, err
	}
	return buf[:n], nil
}
