package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/mqttdiag/mqttdiag/internal/pipeline"
	"github.com/mqttdiag/mqttdiag/internal/telemetry"
	"github.com/mqttdiag/mqttdiag/matcher"
)

// reloadable are the settings a SIGHUP reads again from the configuration
// file: the signature sources. The others (inputs, sinks, storm control)
// shape goroutines and queues already running; they need a restart.
func reloadable() []string { return []string{"signatures", "no-builtin"} }

// reloader rebuilds the signature pack on SIGHUP and swaps it into the
// pipeline whole; a pack that does not load is rejected, logged with every
// problem, counted, and the pack in use stays.
type reloader struct {
	g     *globalFlags
	flags *pflag.FlagSet // the command's flags, to re-apply file settings
	mopts []matcher.Option
	p     *pipeline.Pipeline
	tel   *telemetry.Server // nil without --metrics-addr
	log   zerolog.Logger
}

// hangups receives SIGHUP for the whole life of a `run` process. main
// catches it before anything else and never lets go: SIGHUP's default
// action ends the process, and a `systemctl reload` that lands while run
// loads its pack, or while it drains after SIGTERM, must not kill it
// (exit 129, no final checkpoint). Other commands keep the default.
var hangups chan os.Signal

// catchHangups starts catching SIGHUP when args run the run command.
func catchHangups(args []string) {
	root := newRootCmd(strings.NewReader(""), io.Discard, io.Discard, func(string) string { return "" })
	if c, _, err := root.Find(args); err != nil || c.Name() != "run" || c.Parent() != root {
		return
	}
	hangups = make(chan os.Signal, 1)
	signal.Notify(hangups, syscall.SIGHUP)
}

// hangupSignals returns the SIGHUP channel of the process, or, when run
// is executed in-process (tests), one caught from now until stop.
func hangupSignals() (hup <-chan os.Signal, stop func()) {
	if hangups != nil {
		return hangups, func() {}
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGHUP)
	return c, func() { signal.Stop(c) }
}

// ignoreEarlyHangups drops the SIGHUPs that came while run was starting:
// the pack was being loaded then, from the files as they were.
func ignoreEarlyHangups(hup <-chan os.Signal, log zerolog.Logger) {
	for {
		select {
		case <-hup:
			log.Warn().Msg("SIGHUP ignored: it came during start-up, while the signatures were being loaded; send it again to reload")
		default:
			return
		}
	}
}

// watch reloads on every SIGHUP until stop (SIGTERM or SIGINT) or done
// (run returns). Once stopping, SIGHUP is ignored: the drain and the
// final checkpoint save go on.
func (r *reloader) watch(stop context.Context, hup <-chan os.Signal, done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-stop.Done():
			r.log.Info().Msg("stopping: delivering what was read, then saving checkpoints")
			for {
				select {
				case <-hup:
					r.log.Warn().Msg("SIGHUP ignored: mqttdiag is stopping")
				case <-done:
					return
				}
			}
		case <-hup:
			r.reload()
		}
	}
}

// reload reads the reloadable settings and the signatures again.
func (r *reloader) reload() {
	if err := r.rereadConfig(); err != nil {
		r.rejected(err)
		return
	}
	pack, err := r.g.loadPack()
	if err != nil {
		r.rejected(err)
		return
	}
	m, err := matcher.New(pack.Signatures(), r.mopts...)
	if err != nil {
		r.rejected(err)
		return
	}
	old := r.p.CurrentPack()
	r.p.SetPack(pipeline.NewPack(m, pack.Signatures(), packVersion(pack), pack.Hash()))
	r.log.Info().Int("signatures", pack.Len()).Str("pack_hash", pack.Hash()).Str("previous_hash", old.Hash).
		Str("pack_version", packVersion(pack)).Msg("signatures reloaded")
}

func (r *reloader) rejected(err error) {
	if r.tel != nil {
		r.tel.LoadError()
	}
	pk := r.p.CurrentPack()
	r.log.Error().Err(err).Str("pack_hash", pk.Hash).Msg("reload rejected: the new signatures do not load; still using the previous pack")
}

// rereadConfig applies the reloadable settings of the configuration file
// again, where neither a flag nor the environment set them.
func (r *reloader) rereadConfig() error {
	if r.g.configPath == "" {
		return nil
	}
	cf, err := loadConfigFile(r.g.configPath)
	if err != nil {
		return err
	}
	for _, name := range reloadable() {
		if src := r.g.configSources[name]; src.kind == "flag" || src.kind == "env" {
			continue
		}
		f := r.flags.Lookup(name)
		if f == nil {
			continue
		}
		n, ok := cf.keys[name]
		var vals []string
		if ok {
			if vals, err = cf.values(name, n); err != nil {
				return err
			}
		}
		if sv, isSlice := f.Value.(pflag.SliceValue); isSlice {
			if err := sv.Replace(vals); err != nil {
				return fmt.Errorf("%s: %s: %w", r.g.configPath, name, err)
			}
			continue
		}
		v := f.DefValue
		if len(vals) > 0 {
			v = vals[0]
		}
		if err := f.Value.Set(v); err != nil {
			return fmt.Errorf("%s: %s: %w", r.g.configPath, name, err)
		}
	}
	return nil
}
