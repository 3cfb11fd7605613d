package main

import (
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/mqttdiag/mqttdiag/internal/brokerconf"
	"github.com/mqttdiag/mqttdiag/internal/pipeline"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
)

// globalFlags are accepted by every command.
type globalFlags struct {
	signatureDirs []string
	noBuiltin     bool
	logFormat     string
	logLevel      string
	// Where the configuration came from, for a reload (SIGHUP).
	configPath    string
	configSources map[string]source
	// What `config check` validates, per command (check.go).
	checks checks
}

// packVersion names a pack: mqttdiag's version for the built-in pack,
// "+N" for N site signatures loaded beside it, "site" without it.
func packVersion(p *signatures.Pack) string {
	builtin := 0
	for _, s := range p.Signatures() {
		if strings.HasPrefix(s.Origin().File, "builtin:") {
			builtin++
		}
	}
	v := buildVersion()
	if builtin == 0 {
		v = "site"
	}
	if site := p.Len() - builtin; site > 0 {
		v += fmt.Sprintf("+%d", site)
	}
	return v
}

func (g *globalFlags) register(c *cobra.Command) {
	f := c.PersistentFlags()
	f.StringArrayVar(&g.signatureDirs, "signatures", nil, "load signatures from this JSON file or directory, in addition to the built-in pack (repeatable)")
	f.BoolVar(&g.noBuiltin, "no-builtin", false, "do not load the built-in signature pack")
	f.StringVar(&g.logFormat, "log-format", "json", "format of mqttdiag's own logs on stderr: json or console")
	f.StringVar(&g.logLevel, "log-level", "info", "level of mqttdiag's own logs: debug, info, warn, error")
}

// logger builds the self-logger on stderr.
func (g *globalFlags) logger(stderr io.Writer) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(g.logLevel))
	if err != nil || g.logLevel == "" {
		return zerolog.Nop(), fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel)
	}
	var w io.Writer
	switch g.logFormat {
	case "json":
		w = stderr
	case "console":
		// Colour only for a person at a terminal: escape codes in a log
		// file or a collector are noise.
		color, _ := useColor("auto", isTerminal(stderr))
		w = zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.RFC3339, NoColor: !color}
	default:
		return zerolog.Nop(), fmt.Errorf("--log-format %q: want json or console", g.logFormat)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// loadPack loads the built-in pack and the --signatures paths. Any problem
// in any file fails the whole load: a bad signature must stop the start,
// not fail silently at 3 a.m.
func (g *globalFlags) loadPack() (*signatures.Pack, error) {
	var sets [][]*signatures.Signature
	if !g.noBuiltin {
		b, err := signatures.Builtin()
		if err != nil {
			return nil, fmt.Errorf("built-in signature pack: %w", err)
		}
		sets = append(sets, b)
	}
	if len(g.signatureDirs) > 0 {
		s, err := signatures.Load(g.signatureDirs...)
		if err != nil {
			return nil, fmt.Errorf("load signatures (fix the file or drop it from --signatures):\n%w", err)
		}
		sets = append(sets, s)
	}
	p, err := signatures.NewPack(sets...)
	if err != nil {
		return nil, err
	}
	if p.Len() == 0 {
		return nil, fmt.Errorf("no signatures loaded: drop --no-builtin or give --signatures")
	}
	return p, nil
}

// diagFlags are the diagnosis options run and scan share.
type diagFlags struct {
	noUnknown     bool
	brokerConfig  string
	context       int
	lang          string
	relatedWindow time.Duration
	sinks         sinkFlags // delivery: sink_flags.go
}

func (d *diagFlags) register(c *cobra.Command) {
	c.Flags().BoolVar(&d.noUnknown, "no-unknown", false, "do not report fault-looking lines that no signature explains (signature_id \"unknown\")")
	c.Flags().StringVar(&d.brokerConfig, "broker-config", "", "the broker's mosquitto.conf or emqx.conf: at start, say which signatures cannot fire with its logging settings")
	c.Flags().IntVar(&d.context, "context", 3, "carry this many preceding lines of the same source with each diagnosis (0: none)")
	c.Flags().StringVar(&d.lang, "lang", "en", "language of diagnoses: en, or zh for the signatures' Chinese text where they have it")
	c.Flags().DurationVar(&d.relatedWindow, "related-window", 5*time.Minute, "link a diagnosis to earlier ones its signature follows from (transition_graph) seen within this window (0: off)")
	d.sinks.register(c)
}

// options returns the pipeline options for the flags, and checks the
// broker config against the pack.
func (d *diagFlags) options(log zerolog.Logger, pack *signatures.Pack) ([]pipeline.Option, error) {
	if d.lang != "en" && d.lang != "zh" {
		return nil, fmt.Errorf("--lang %q: want en or zh", d.lang)
	}
	if d.context < 0 || d.context > 100 {
		return nil, fmt.Errorf("--context %d: want 0 to 100 lines", d.context)
	}
	if d.brokerConfig != "" {
		cfg, err := brokerconf.Load(d.brokerConfig)
		if err != nil {
			return nil, fmt.Errorf("--broker-config: %w", err)
		}
		warnUnfireable(log, pack, cfg)
	}
	sinkOpts, err := d.sinks.options(log, pack)
	if err != nil {
		return nil, err
	}
	return append([]pipeline.Option{pipeline.Logger(log), pipeline.Unknown(!d.noUnknown, time.Minute),
		pipeline.ContextLines(d.context), pipeline.Lang(d.lang), pipeline.Related(d.relatedWindow),
		pipeline.PackInfo(packVersion(pack), pack.Hash())}, sinkOpts...), nil
}

// setup is what run and scan share: logger, pack and matcher.
func (g *globalFlags) setup(stderr io.Writer, mopts ...matcher.Option) (zerolog.Logger, *signatures.Pack, *matcher.Matcher, error) {
	log, err := g.logger(stderr)
	if err != nil {
		return log, nil, nil, err
	}
	pack, err := g.loadPack()
	if err != nil {
		return log, nil, nil, err
	}
	m, err := matcher.New(pack.Signatures(), mopts...)
	if err != nil {
		return log, nil, nil, err
	}
	// Loading and compiling leave megabytes of garbage (the pack's JSON,
	// parse trees) that a sidecar should not keep resident for its life.
	debug.FreeOSMemory()
	return log, pack, m, nil
}

// logMatcherStats logs the matcher's work at debug level, when a run ends:
// every pack's, across reloads.
func logMatcherStats(log zerolog.Logger, p *pipeline.Pipeline) {
	st, _ := p.MatcherStats()
	log.Debug().Int64("lines", st.Lines).Int64("candidates", st.Candidates).Int64("regex_runs", st.RegexRuns).
		Int64("cache_hits", st.CacheHits).Int64("cache_misses", st.CacheMisses).
		Int("cache_entries", st.CacheEntries).Int64("cache_bytes", st.CacheBytes).Msg("matcher")
}
