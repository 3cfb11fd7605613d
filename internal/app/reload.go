package app

import (
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/rs/zerolog"

	"github.com/mqttdiag/mqttdiag/internal/pipeline"
	"github.com/mqttdiag/mqttdiag/matcher"
)

// reloadable are the settings a SIGHUP reads again from the configuration
// file: the signature sources. The others (inputs, sinks, storm control)
// shape goroutines and queues already running; they need a restart.
var reloadable = [...]string{"signatures", "no-builtin"}

// Packs is what a reload swaps the pack of.
type Packs interface {
	SetPack(*pipeline.Pack)
	CurrentPack() *pipeline.Pack
}

// Reloader rebuilds the signature pack on SIGHUP and swaps it into the
// pipeline whole; a pack that does not load is rejected, logged with every
// problem, counted, and the pack in use stays. It owns what a reload
// reads: the global settings it started from, where each came from, and
// the configuration file. It never changes the flags or the Settings it
// was made from.
type Reloader struct {
	Global     Global // as resolved at start
	ConfigPath string // "" for none
	Sources    Sources
	Matcher    []matcher.Option
	Pipeline   Packs
	Log        zerolog.Logger
	Version    string
	Rejected   func() // counts a rejected reload (telemetry); may be nil
}

// DropEarly drops the SIGHUPs that came while the command was starting:
// the pack was being loaded then, from the files as they were.
func (r *Reloader) DropEarly(hup <-chan os.Signal) {
	for {
		select {
		case <-hup:
			r.Log.Warn().Msg("SIGHUP ignored: it came during start-up, while the signatures were being loaded; send it again to reload")
		default:
			return
		}
	}
}

// Watch reloads on every SIGHUP until stop (SIGTERM or SIGINT) or done
// (the command returns). Once stopping, SIGHUP is ignored: the drain and
// the final checkpoint save go on.
func (r *Reloader) Watch(stop context.Context, hup <-chan os.Signal, done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-stop.Done():
			r.Log.Info().Msg("stopping: delivering what was read, then saving checkpoints")
			for {
				select {
				case <-hup:
					r.Log.Warn().Msg("SIGHUP ignored: mqttdiag is stopping")
				case <-done:
					return
				}
			}
		case <-hup:
			_ = r.Reload()
		}
	}
}

// Reload reads the reloadable settings and the signatures again, and
// swaps the new pack in; on an error the pack in use stays.
func (r *Reloader) Reload() error {
	g, err := r.reread()
	if err != nil {
		return r.rejected(err)
	}
	pack, err := g.LoadPack()
	if err != nil {
		return r.rejected(err)
	}
	m, err := matcher.New(pack.Signatures(), r.Matcher...)
	if err != nil {
		return r.rejected(err)
	}
	old := r.Pipeline.CurrentPack()
	version := PackVersion(pack, r.Version)
	r.Pipeline.SetPack(pipeline.NewPack(m, pack.Signatures(), version, pack.Hash()))
	r.Log.Info().Int("signatures", pack.Len()).Str("pack_hash", pack.Hash()).Str("previous_hash", old.Hash).
		Str("pack_version", version).Msg("signatures reloaded")
	return nil
}

func (r *Reloader) rejected(err error) error {
	if r.Rejected != nil {
		r.Rejected()
	}
	r.Log.Error().Err(err).Str("pack_hash", r.Pipeline.CurrentPack().Hash).Msg("reload rejected: the new signatures do not load; still using the previous pack")
	return err
}

// reread returns the global settings with the reloadable ones read from
// the configuration file again, where neither a flag nor the environment
// set them (those win, as at start); a key the file no longer has goes
// back to its default.
func (r *Reloader) reread() (Global, error) {
	g := r.Global
	if r.ConfigPath == "" {
		return g, nil
	}
	cf, err := LoadConfigFile(r.ConfigPath)
	if err != nil {
		return g, err
	}
	for _, name := range reloadable {
		if k := r.Sources[name].Kind; k == FromFlag || k == FromEnv {
			continue
		}
		vals, set, err := cf.Values(name)
		if err != nil {
			return g, err
		}
		switch name {
		case "signatures":
			g.SignatureDirs = vals
		case "no-builtin":
			g.NoBuiltin = false
			if !set {
				continue
			}
			if len(vals) != 1 {
				return g, fmt.Errorf("%s: %s: takes one value, not a list", cf.at(name), name)
			}
			if g.NoBuiltin, err = strconv.ParseBool(vals[0]); err != nil {
				return g, fmt.Errorf("%s: %s: %w", cf.at(name), name, err)
			}
		}
	}
	return g, nil
}
