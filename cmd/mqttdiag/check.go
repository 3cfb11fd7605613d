package main

import (
	"io"
	"regexp"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/mqttdiag/mqttdiag/internal/pipeline"
	"github.com/mqttdiag/mqttdiag/matcher"
	"github.com/mqttdiag/mqttdiag/signatures"
)

// prepared is what run and scan make of their settings before they read
// a line.
type prepared struct {
	log   zerolog.Logger
	pack  *signatures.Pack
	m     *matcher.Matcher
	mopts []matcher.Option
	popts []pipeline.Option // the diagnosis, delivery and input options
}

// prepare checks the settings run and scan share and builds from them:
// the self-logger on stderr, the pack and matcher, the sinks. started is
// called once the pack is loaded (run logs its start there). `config
// check` calls it too, so that a value run or scan would refuse fails
// the check the same way.
func prepare(stderr io.Writer, g *globalFlags, in *inputFlags, df *diagFlags, started func(zerolog.Logger, *signatures.Pack)) (*prepared, error) {
	mopts, iopts, err := in.options()
	if err != nil {
		return nil, err
	}
	log, pack, m, err := g.setup(stderr, mopts...)
	if err != nil {
		return nil, err
	}
	if started != nil {
		started(log, pack)
	}
	popts, err := df.options(log, pack)
	if err != nil {
		return nil, err
	}
	return &prepared{log: log, pack: pack, m: m, mopts: mopts, popts: append(popts, iopts...)}, nil
}

// checks are the validations `config check --for NAME` runs, by command
// name: prepare, and what the command checks besides.
type checks map[string]func() error

func (g *globalFlags) addCheck(c *cobra.Command, check func() error) {
	if g.checks == nil {
		g.checks = checks{}
	}
	g.checks[c.Name()] = check
}

// checkShared is the check of run and scan: prepare, logging nowhere.
func checkShared(g *globalFlags, in *inputFlags, df *diagFlags) error {
	_, err := prepare(io.Discard, g, in, df, nil)
	return err
}

var flagInError = regexp.MustCompile(`^--([a-z0-9-]+)`)

// locate adds to an error about a setting (one that starts with its flag,
// "--lang ...") where the setting's value came from: the file and line,
// or the environment variable. A value given as a flag is where the user
// just typed it.
func locate(err error, sources map[string]source) error {
	if err == nil {
		return nil
	}
	m := flagInError.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	src, ok := sources[m[1]]
	if !ok {
		return err
	}
	switch src.kind {
	case "file":
		return &locatedError{src.at, err}
	case "env":
		return &locatedError{"env " + src.at, err}
	}
	return err
}

type locatedError struct {
	at  string
	err error
}

func (e *locatedError) Error() string { return e.at + ": " + e.err.Error() }
func (e *locatedError) Unwrap() error { return e.err }

// locateErrors makes the errors of run and scan name where a bad setting
// came from.
func locateErrors(c *cobra.Command, g *globalFlags) {
	run := c.RunE
	c.RunE = func(c *cobra.Command, args []string) error {
		return locate(run(c, args), g.configSources)
	}
}
