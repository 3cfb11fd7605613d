package catalogue

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"testing"
)

func TestRepo(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git:", err)
	}
	work := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run("init", "-q")
	for name, text := range map[string]string{"src/a.c": "int a;\n", "b.txt": "no newline"} {
		p := filepath.Join(work, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("add", ".")
	run("-c", "commit.gpgsign=false", "commit", "-q", "-m", "one")
	run("tag", "v1.0.9")
	run("tag", "v1.0.10")

	g := NewRepo(filepath.Join(work, ".git"))
	tags, err := g.Lines("tag", "--list")
	if err != nil || !slices.Equal(tags, []string{"v1.0.10", "v1.0.9"}) {
		t.Fatalf("tags %q, %v", tags, err)
	}
	files, err := g.Files("v1.0.9")
	if err != nil || len(files) != 2 || files[0].Path != "b.txt" || files[1].Path != "src/a.c" {
		t.Fatalf("files %+v, %v", files, err)
	}
	for _, f := range append(files, files...) { // the batch reader serves repeated reads
		b, err := g.Blob(f.Hash)
		want := map[string]string{"b.txt": "no newline", "src/a.c": "int a;\n"}[f.Path]
		if err != nil || string(b) != want {
			t.Errorf("blob %s: %q, %v", f.Path, b, err)
		}
	}
	if b, err := g.Show("v1.0.10:src/a.c"); err != nil || string(b) != "int a;\n" {
		t.Errorf("show: %q, %v", b, err)
	}
	if _, err := g.Lines("ls-tree", "-r", "v9"); err == nil {
		t.Error("ls-tree of a missing ref: no error")
	}
}

func TestTagLess(t *testing.T) {
	tags := []string{"v5.0.10", "v1.4.1", "v5.0.9", "v1.4.10", "v1.4", "v2.0.0"}
	sort.Slice(tags, func(i, j int) bool { return TagLess(tags[i], tags[j]) })
	if want := []string{"v1.4", "v1.4.1", "v1.4.10", "v2.0.0", "v5.0.9", "v5.0.10"}; !slices.Equal(tags, want) {
		t.Errorf("got %q, want %q", tags, want)
	}
}

func TestUpdate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.jsonl")
	var stderr bytes.Buffer
	if err := Update(path, []Entry{{Format: "a", Level: "error"}, {Format: "gone", Level: "error"}}, []string{"s1"}, false, &stderr); err != nil {
		t.Fatal(err)
	}
	if want := "2 entries (2 without a disposition), 1 calls skipped, written to " + path + "\n"; stderr.String() != want {
		t.Errorf("first run said %q, want %q", stderr.String(), want)
	}
	stderr.Reset()
	if err := Update(path, []Entry{{Format: "a", Level: "error"}}, []string{"s1", "s2"}, true, &stderr); err != nil {
		t.Fatal(err)
	}
	want := "skipped: s1\nskipped: s2\ndropped (no longer in the source): \"gone\"\n" +
		"1 entries (1 without a disposition), 2 calls skipped, written to " + path + "\n"
	if stderr.String() != want {
		t.Errorf("second run said %q, want %q", stderr.String(), want)
	}
	if err := os.WriteFile(path, []byte("{not json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Update(path, nil, nil, false, &stderr); err == nil {
		t.Error("a broken catalogue: no error")
	}
}
