package app

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mqttdiag/mqttdiag/internal/pipeline"
)

// packs is the pipeline side of a reload: the pack in use.
type packs struct {
	mu sync.Mutex
	pk *pipeline.Pack
}

func (p *packs) SetPack(pk *pipeline.Pack) { p.mu.Lock(); p.pk = pk; p.mu.Unlock() }
func (p *packs) CurrentPack() *pipeline.Pack {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pk
}

// ids are the signature ids of the pack in use.
func (p *packs) ids() string {
	var ids []string
	for _, s := range p.CurrentPack().Signatures {
		ids = append(ids, s.ID)
	}
	return strings.Join(ids, ",")
}

// writeSignature writes a one-signature pack file with id into dir.
func writeSignature(t *testing.T, dir, id string) string {
	t.Helper()
	path := filepath.Join(dir, strings.ReplaceAll(id, "/", "-")+".json")
	doc := fmt.Sprintf(`[{"id": %q, "signature": "Client id takeover", "category": "protocol_error", "severity": "warning",
		"root_cause": "two clients share an id", "regex": "^Client (?P<client_id>.+) already connected, closing old connection\\.$"}]`, id)
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// newReloader starts from the settings a config file gives, as run does.
func newReloader(t *testing.T, config string, sources Sources, flagDirs ...string) (*Reloader, *packs, *int) {
	t.Helper()
	g := Global{NoBuiltin: true, LogLevel: "info", LogFormat: "json", SignatureDirs: flagDirs}
	cf, err := LoadConfigFile(config)
	if err != nil {
		t.Fatal(err)
	}
	if vals, ok, _ := cf.Values("signatures"); ok && sources["signatures"].Kind == FromFile {
		g.SignatureDirs = vals
	}
	if sources == nil {
		sources = Sources{}
	}
	sources["no-builtin"] = Source{Kind: FromFile}
	pk, err := g.LoadPack()
	if err != nil {
		t.Fatal(err)
	}
	p := &packs{}
	rejected := 0
	r := &Reloader{Global: g, ConfigPath: config, Sources: sources, Pipeline: p, Log: zerolog.Nop(),
		Version: "test", Rejected: func() { rejected++ }}
	p.SetPack(pipeline.NewPack(nil, pk.Signatures(), "test", pk.Hash()))
	return r, p, &rejected
}

// A reload reads the signatures the configuration file names now, and
// swaps the pack whole.
func TestReloadReadsTheFileAgain(t *testing.T) {
	dir := t.TempDir()
	a, b := writeSignature(t, dir, "site/a"), writeSignature(t, dir, "site/b")
	config := filepath.Join(dir, "mqttdiag.yaml")
	writeFile(t, config, "signatures: ["+a+"]\nno-builtin: true\n")
	r, p, rejected := newReloader(t, config, Sources{"signatures": {Kind: FromFile, At: config + ":1"}})
	if p.ids() != "site/a" {
		t.Fatalf("start: %s", p.ids())
	}
	writeFile(t, config, "signatures: ["+a+", "+b+"]\nno-builtin: true\n")
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if p.ids() != "site/a,site/b" || *rejected != 0 {
		t.Errorf("after reload: %s (rejected %d), want site/a,site/b", p.ids(), *rejected)
	}
	if r.Global.SignatureDirs[0] != a || len(r.Global.SignatureDirs) != 1 {
		t.Errorf("the reload changed the settings it started from: %v", r.Global.SignatureDirs)
	}
}

// A setting given as a flag or in the environment wins over the file, at
// a reload as at start.
func TestReloadKeepsFlagAndEnvSettings(t *testing.T) {
	for _, kind := range []SourceKind{FromFlag, FromEnv} {
		t.Run(kind.String(), func(t *testing.T) {
			dir := t.TempDir()
			a, b := writeSignature(t, dir, "site/a"), writeSignature(t, dir, "site/b")
			config := filepath.Join(dir, "mqttdiag.yaml")
			writeFile(t, config, "signatures: ["+b+"]\nno-builtin: true\n")
			r, p, _ := newReloader(t, config, Sources{"signatures": {Kind: kind}}, a)
			if err := r.Reload(); err != nil {
				t.Fatal(err)
			}
			if p.ids() != "site/a" {
				t.Errorf("after reload: %s, want the %s's site/a", p.ids(), kind)
			}
		})
	}
}

// A pack that does not load is rejected and counted; the pack in use
// stays. So does a configuration file that no longer parses.
func TestReloadRejectsABadPack(t *testing.T) {
	dir := t.TempDir()
	a := writeSignature(t, dir, "site/a")
	bad := filepath.Join(dir, "bad.json")
	writeFile(t, bad, `[{"id": "x/y", "regex": "Client (unclosed"}]`)
	config := filepath.Join(dir, "mqttdiag.yaml")
	writeFile(t, config, "signatures: ["+a+"]\nno-builtin: true\n")
	r, p, rejected := newReloader(t, config, Sources{"signatures": {Kind: FromFile}})
	before := p.CurrentPack()
	for i, content := range []string{"signatures: [" + a + ", " + bad + "]\nno-builtin: true\n", "signatures: [" + a + "\n", "signatures: [" + a + "]\nno-builtin: maybe\n"} {
		writeFile(t, config, content)
		if err := r.Reload(); err == nil {
			t.Errorf("%q: reload accepted", content)
		}
		if p.CurrentPack() != before || *rejected != i+1 {
			t.Errorf("%q: pack replaced or rejection not counted (%d)", content, *rejected)
		}
	}
}

// Watch reloads on SIGHUP until stop; then it ignores SIGHUP until done.
func TestWatchStopsReloadingWhenStopping(t *testing.T) {
	dir := t.TempDir()
	a, b := writeSignature(t, dir, "site/a"), writeSignature(t, dir, "site/b")
	config := filepath.Join(dir, "mqttdiag.yaml")
	writeFile(t, config, "signatures: ["+a+"]\nno-builtin: true\n")
	r, p, _ := newReloader(t, config, Sources{"signatures": {Kind: FromFile}})
	hup := make(chan os.Signal)
	said := make(chan string, 16)
	r.Log = zerolog.New(lineWriter(said))
	stop, stopping := context.WithCancel(context.Background())
	done := make(chan struct{})
	watched := make(chan struct{})
	go func() { defer close(watched); r.Watch(stop, hup, done) }()

	writeFile(t, config, "signatures: ["+b+"]\nno-builtin: true\n")
	hup <- syscall.SIGHUP
	hup <- syscall.SIGHUP // taken only once the first reload is done
	if p.ids() != "site/b" {
		t.Fatalf("after SIGHUP: %s, want site/b", p.ids())
	}
	stopping()
	for msg := range said { // Watch has seen the stop
		if strings.Contains(msg, "stopping: delivering what was read") {
			break
		}
	}
	writeFile(t, config, "signatures: ["+a+"]\nno-builtin: true\n")
	select {
	case hup <- syscall.SIGHUP: // taken, and ignored
	case <-time.After(10 * time.Second):
		t.Fatal("Watch stopped taking SIGHUP while stopping: a signal would kill the process")
	}
	close(done)
	<-watched
	if p.ids() != "site/b" {
		t.Errorf("a SIGHUP while stopping reloaded: %s", p.ids())
	}
}

// lineWriter sends each log line to c.
type lineWriter chan<- string

func (w lineWriter) Write(p []byte) (int, error) {
	w <- string(p)
	return len(p), nil
}
