package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// The Dockerfile builds a static binary (CGO_ENABLED=0) that runs on
// distroless as user 65532. No Docker engine runs here, so this tests what
// the image relies on: the binary built the same way has no dynamic
// loader nor shared library, and runs as an unprivileged user from an
// empty directory, with no file beside it.
func TestStaticBinaryRunsAsNonRootFromEmptyDir(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	// Not t.TempDir: its parent is private to root, and the unprivileged
	// user must reach the binary.
	dir, err := os.MkdirTemp("", "mqttdiag-static-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "mqttdiag")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	var f *elf.File
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	f, err = elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary asks for a dynamic loader")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries: %v", libs)
	}
	f.Close()

	empty := filepath.Join(dir, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "scan", "--format", "json", "-")
	cmd.Dir = empty
	cmd.Env = []string{} // distroless has no environment to speak of
	cmd.Stdin = strings.NewReader("1795320306: Client dup already connected, closing old connection.\n")
	if os.Getuid() == 0 {
		// The image's user: nonroot, 65532.
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65532, Gid: 65532}}
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run as non-root: %v", err)
	}
	if !strings.Contains(string(out), `"signature_id":"communication/mqtt-publish-identifier-already-in-use"`) {
		t.Errorf("output: %s", out)
	}
}
