package app

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/mqttdiag/mqttdiag/internal/brokerconf"
	"github.com/mqttdiag/mqttdiag/internal/brokerlog"
	"github.com/mqttdiag/mqttdiag/internal/pipeline"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
	"github.com/mqttdiag/mqttdiag/sink"
)

// Environment variables that carry the webhook's credentials: read from
// the environment or from files, never from the command line, where any
// user of the machine can read them in the process list.
const (
	EnvWebhookToken  = "MQTTDIAG_WEBHOOK_TOKEN"
	EnvWebhookSecret = "MQTTDIAG_WEBHOOK_SECRET"
)

// Env is what a command gets from its process.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	Version        string // mqttdiag's version
}

func (e Env) getenv(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(k)
}

// Logger builds the self-logger on w.
func (g Global) Logger(w io.Writer) (zerolog.Logger, error) {
	if err := g.validate(); err != nil {
		return zerolog.Nop(), err
	}
	lvl, _ := zerolog.ParseLevel(strings.ToLower(g.LogLevel))
	if g.LogFormat == "console" {
		// Colour only for a person at a terminal: escape codes in a log
		// file or a collector are noise.
		color, _ := useColor("auto", isTerminal(w))
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.RFC3339, NoColor: !color}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// LoadPack loads the built-in pack and the --signatures paths. Any problem
// in any file fails the whole load: a bad signature must stop the start,
// not fail silently at 3 a.m.
func (g Global) LoadPack() (*signatures.Pack, error) {
	var sets [][]*signatures.Signature
	if !g.NoBuiltin {
		b, err := signatures.Builtin()
		if err != nil {
			return nil, fmt.Errorf("built-in signature pack: %w", err)
		}
		sets = append(sets, b)
	}
	if len(g.SignatureDirs) > 0 {
		s, err := signatures.Load(g.SignatureDirs...)
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

// PackVersion names a pack: mqttdiag's version for the built-in pack,
// "+N" for N site signatures loaded beside it, "site" without it.
func PackVersion(p *signatures.Pack, version string) string {
	builtin := 0
	for _, s := range p.Signatures() {
		if strings.HasPrefix(s.Origin().File, "builtin:") {
			builtin++
		}
	}
	v := version
	if builtin == 0 {
		v = "site"
	}
	if site := p.Len() - builtin; site > 0 {
		v += fmt.Sprintf("+%d", site)
	}
	return v
}

// Setup builds what every matching command needs: the self-logger on w,
// the pack and its matcher.
func (g Global) Setup(w io.Writer, mopts ...matcher.Option) (zerolog.Logger, *signatures.Pack, *matcher.Matcher, error) {
	log, err := g.Logger(w)
	if err != nil {
		return log, nil, nil, err
	}
	pack, err := g.LoadPack()
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

// prepared is what run and scan make of their settings before they read
// a line.
type prepared struct {
	log   zerolog.Logger
	pack  *signatures.Pack
	m     *matcher.Matcher
	mopts []matcher.Option
	popts []pipeline.Option
	// brokerConf is what --broker-config read, nil without it.
	brokerConf *brokerconf.Config
}

// prepare checks the settings run and scan share and builds from them the
// self-logger, the pack and matcher, the sinks. started is called once the
// pack is loaded. Check calls it too, so that a value run or scan would
// refuse fails the check the same way.
func prepare(s Settings, command string, env Env, stderr io.Writer, started func(zerolog.Logger, *signatures.Pack)) (*prepared, error) {
	if err := s.Validate(command); err != nil {
		return nil, err
	}
	mopts := []matcher.Option{matcher.CacheSize(s.Input.CacheSize), matcher.CacheBytes(s.Input.CacheBytes)}
	log, pack, m, err := s.Global.Setup(stderr, mopts...)
	if err != nil {
		return nil, err
	}
	if started != nil {
		started(log, pack)
	}
	var brokerConf *brokerconf.Config
	if s.Diag.BrokerConfig != "" {
		cfg, err := brokerconf.Load(s.Diag.BrokerConfig)
		if err != nil {
			return nil, wrapSetting("broker-config", err)
		}
		log.Info().Strs("files", cfg.Files).Msg("broker configuration read")
		warnUnfireable(log, pack, cfg)
		brokerConf = cfg
	}
	sinkOpts, err := s.Sinks.options(log, pack, env)
	if err != nil {
		return nil, err
	}
	inOpts, err := s.Input.PipelineOptions()
	if err != nil {
		return nil, err
	}
	sinkOpts = append(sinkOpts, inOpts...)
	popts := append([]pipeline.Option{pipeline.Logger(log), pipeline.Unknown(!s.Diag.NoUnknown, time.Minute),
		pipeline.ContextLines(s.Diag.ContextLines), pipeline.Lang(s.Diag.Lang), pipeline.Related(s.Diag.RelatedWindow),
		pipeline.PackInfo(PackVersion(pack, env.Version), pack.Hash()), pipeline.Broker(s.Input.Broker)}, sinkOpts...)
	return &prepared{log: log, pack: pack, m: m, mopts: mopts, popts: popts, brokerConf: brokerConf}, nil
}

// Check validates s as command would before it reads a line: every value,
// the signatures, CA and token files, the broker configuration.
func Check(s Settings, command string, env Env) error {
	_, err := prepare(s, command, env, io.Discard, nil)
	return err
}

// options builds the alerting sinks and the delivery options.
func (s Sinks) options(log zerolog.Logger, pack *signatures.Pack, env Env) ([]pipeline.Option, error) {
	opts := []pipeline.Option{pipeline.Queue(s.QueueSize), pipeline.AlertBatch(s.BatchMax, s.BatchWait),
		pipeline.ShutdownTimeout(s.ShutdownTimeout), pipeline.DedupRecords(s.DedupStdout), pipeline.MaxDedupKeys(s.MaxDedupKeys)}
	thresholds, err := parseThresholds(s.Thresholds, pack)
	if err != nil {
		return nil, err
	}
	opts = append(opts, pipeline.StormControl(s.DedupWindow, thresholds))
	var sinks []sink.Notifier
	var names []string
	if len(s.Webhooks) > 0 {
		cfg, err := s.webhookConfig(env)
		if err != nil {
			return nil, err
		}
		for _, u := range s.Webhooks {
			w, err := sink.NewWebhook(u, cfg)
			if err != nil {
				return nil, wrapSetting("webhook", err)
			}
			sinks, names = append(sinks, w), append(names, w.String())
		}
	}
	if len(s.Alertmanagers) > 0 {
		cfg, err := s.alertmanagerConfig(env)
		if err != nil {
			return nil, err
		}
		for _, u := range s.Alertmanagers {
			a, err := sink.NewAlertmanager(u, cfg)
			if err != nil {
				return nil, wrapSetting("alertmanager", err)
			}
			sinks, names = append(sinks, a), append(names, a.String())
		}
	}
	if len(sinks) > 0 {
		log.Info().Strs("sinks", names).Stringer("dedup_window", s.DedupWindow).Int("thresholds", len(thresholds)).Msg("alerting")
		opts = append(opts, pipeline.Alerting(sinks...))
	}
	return opts, nil
}

func (s Sinks) http(caFile, flag, version string) (sink.HTTPOptions, error) {
	o := sink.HTTPOptions{Timeout: s.RequestTimeout, UserAgent: "mqttdiag/" + version}
	if caFile != "" {
		pool, err := sink.LoadCAFile(caFile)
		if err != nil {
			return o, wrapSetting(flag, err)
		}
		o.RootCAs = pool
	}
	return o, nil
}

func (s Sinks) webhookConfig(env Env) (sink.WebhookConfig, error) {
	h, err := s.http(s.WebhookCA, "webhook-ca", env.Version)
	if err != nil {
		return sink.WebhookConfig{}, err
	}
	cfg := sink.WebhookConfig{HTTPOptions: h, Header: make(http.Header)}
	for _, kv := range s.WebhookHeaders {
		k, v, ok := strings.Cut(kv, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || strings.ContainsAny(k, " \t\r\n") || strings.ContainsAny(v, "\r\n") {
			// The value may be a credential: name the header, not its value.
			return cfg, settingErr("webhook-header", "%q: want 'Name: value'", maskHeader(kv))
		}
		cfg.Header.Add(k, v)
	}
	if cfg.Token, err = credential(s.TokenFile, "webhook-token-file", EnvWebhookToken, env, true); err != nil {
		return cfg, err
	}
	secret, err := credential(s.SecretFile, "webhook-secret-file", EnvWebhookSecret, env, false)
	if err != nil {
		return cfg, err
	}
	cfg.Secret = []byte(secret)
	return cfg, nil
}

func (s Sinks) alertmanagerConfig(env Env) (sink.AlertmanagerConfig, error) {
	h, err := s.http(s.AlertmanagerCA, "alertmanager-ca", env.Version)
	if err != nil {
		return sink.AlertmanagerConfig{}, err
	}
	instance := s.Instance
	if instance == "" {
		if instance, err = os.Hostname(); err != nil {
			return sink.AlertmanagerConfig{}, fmt.Errorf("no --instance, and the host name is unknown: %w", err)
		}
	}
	if s.GeneratorURL != "" {
		// Checked here: the sink's own error would quote the URL whole.
		if _, err := url.Parse(s.GeneratorURL); err != nil {
			return sink.AlertmanagerConfig{}, settingErr("alert-generator-url", "%q: does not parse as a URL", maskURL(s.GeneratorURL))
		}
	}
	fields := []string{} // not nil: none given means none, not the default
	for _, f := range s.LabelFields {
		if f != "" {
			fields = append(fields, f)
		}
	}
	return sink.AlertmanagerConfig{HTTPOptions: h, Instance: instance, ResolveTimeout: s.ResolveTimeout,
		ResendInterval: s.ResendInterval, GeneratorURL: s.GeneratorURL, LabelFields: fields,
		MaxActive: s.MaxActive, BatchMax: s.BatchMax}, nil
}

// credential reads a secret from file, else from the environment
// variable name. A file's trailing newline is not part of the secret; a
// token is one line (it goes into a header), so a file of several lines
// is refused rather than sent to fail every request.
func credential(file, flag, name string, env Env, oneLine bool) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", wrapSetting(flag, err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", settingErr(flag, ": %s is empty", file)
		}
		if oneLine && strings.ContainsAny(v, "\r\n") {
			return "", settingErr(flag, ": %s holds %d lines; want the token alone on one line", file, strings.Count(v, "\n")+1)
		}
		return v, nil
	}
	v := env.getenv(name)
	if oneLine && strings.ContainsAny(strings.TrimRight(v, "\r\n"), "\r\n") {
		return "", fmt.Errorf("$%s holds several lines; want the token alone on one line", name)
	}
	return strings.TrimRight(v, "\r\n"), nil
}

// parseThresholds parses --threshold ID=COUNT/WINDOW (or ID=off) values.
func parseThresholds(vals []string, pack *signatures.Pack) (map[string]pipeline.Threshold, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	known := map[string]bool{pipeline.UnknownID: true}
	for _, s := range pack.Signatures() {
		known[s.ID] = true
	}
	out := make(map[string]pipeline.Threshold)
	for _, v := range vals {
		id, spec, ok := strings.Cut(v, "=")
		if !ok || id == "" {
			return nil, settingErr("threshold", "%q: want ID=COUNT/WINDOW, e.g. mosquitto/keepalive-timeout=50/5m, or ID=off", v)
		}
		if !known[id] {
			ids := make([]string, 0, len(known))
			for k := range known {
				ids = append(ids, k)
			}
			sort.Strings(ids)
			return nil, settingErr("threshold", "%q: no loaded signature has id %q (have %s)", v, id, strings.Join(ids, ", "))
		}
		if spec == "off" {
			out[id] = pipeline.Threshold{}
			continue
		}
		count, window, ok := strings.Cut(spec, "/")
		n, err := strconv.Atoi(count)
		if !ok || err != nil || n < 2 {
			return nil, settingErr("threshold", "%q: COUNT must be a number of 2 or more", v)
		}
		w, err := time.ParseDuration(window)
		if err != nil || w <= 0 || w > MaxWindow {
			return nil, settingErr("threshold", "%q: WINDOW must be a positive Go duration up to 24h, such as 5m", v)
		}
		out[id] = pipeline.Threshold{Count: n, Window: w}
	}
	return out, nil
}

// warnUnfireable logs, at start, the signatures that cannot fire with the
// broker configuration given by --broker-config.
func warnUnfireable(log zerolog.Logger, pack *signatures.Pack, cfg *brokerconf.Config) {
	if cfg == nil {
		return
	}
	var ids []string
	for _, s := range pack.Signatures() {
		if s.Broker != "" && s.Broker != cfg.Broker {
			continue
		}
		if ok, why := cfg.Logs(s.LogLevel); !ok {
			ids = append(ids, s.ID+" ("+why+")")
		} else if cfg.Broker == "mosquitto" && !cfg.ConnectionMessages && onlyConnectionMessages(s) {
			ids = append(ids, s.ID+" (needs `connection_messages true`, the default; "+cfg.File+" sets it false)")
		}
	}
	if len(ids) > 0 {
		log.Warn().Strs("signatures", ids).Int("count", len(ids)).Msg("these signatures cannot fire with the broker's logging configuration")
	}
}

// warnInputs logs, at start of run, why the inputs followed may not be
// where the broker configured by --broker-config writes its log.
func warnInputs(log zerolog.Logger, cfg *brokerconf.Config, inputs []string) {
	if cfg == nil {
		return
	}
	for _, w := range cfg.InputWarnings(inputs) {
		log.Warn().Str("broker_config", cfg.File).Strs("inputs", inputs).Msg(w)
	}
}

// onlyConnectionMessages reports whether every line a Mosquitto signature
// is known to match (its examples, real or from source) is one mosquitto
// prints only with connection_messages on.
func onlyConnectionMessages(s *signatures.Signature) bool {
	n := 0
	for _, l := range append(s.Examples[:len(s.Examples):len(s.Examples)], s.SourceExamples...) {
		msg, _, _ := brokerlog.Split(l)
		if system, ok := brokerlog.Detect(l, msg); ok && system != "mosquitto" {
			continue // another system's wording of the same fault
		}
		if !brokerlog.MosquittoConnectionMessage(msg) {
			return false
		}
		n++
	}
	return n > 0
}
