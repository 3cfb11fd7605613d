// Command mqttdiag watches MQTT broker logs and prints a structured
// diagnosis for every known fault: what is wrong, why, what fixes it and
// what not to try.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	_ "time/tzdata" // --timezone names resolve in a container without /usr/share/zoneinfo

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mqttdiag/mqttdiag/internal/app"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	// A sidecar shares the host with a broker: trade a little CPU for a
	// smaller heap, unless the operator chose with GOGC or GOMEMLIMIT.
	// Measured on a 15M-line scan (BENCHMARKS.md): 35 costs about 3 % CPU
	// against 50 and keeps the peak RSS under 30 MiB.
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(35)
	}
	// SIGHUP first: its default action ends the process, and a reload
	// sent while run starts or drains must not.
	var hup chan os.Signal
	if runs(os.Args[1:], "run") {
		hup = make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopSignals := onStopSignals(cancel, func() {
		fmt.Fprintln(os.Stderr, "mqttdiag: second stop signal: exiting now, without delivering or saving what is left")
		os.Exit(exitInterrupted)
	})
	defer stopSignals()
	os.Exit(executeIn(ctx, os.Args[1:], process{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, hangups: hup}))
}

// exitInterrupted is the status of a process ended by a second signal,
// as a shell reports one ended by SIGINT.
const exitInterrupted = 130

// onStopSignals calls stop on the first SIGINT or SIGTERM and now on the
// second: a drain that cannot finish must never keep the process alive
// against its operator.
func onStopSignals(stop, now func()) (release func()) {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sig:
			stop()
		case <-done:
			return
		}
		select {
		case <-sig:
			now()
		case <-done:
		}
	}()
	return func() { signal.Stop(sig); close(done) }
}

// runs reports whether args run the top-level command name.
func runs(args []string, name string) bool {
	root := newRootCmd(process{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }})
	c, _, err := root.Find(args)
	return err == nil && c.Name() == name && c.Parent() == root
}

// process is what a command gets from its process; tests pass their own.
type process struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	hangups        <-chan os.Signal // SIGHUP, caught from the start for run; nil otherwise
}

func (p process) env() app.Env {
	return app.Env{Stdin: p.stdin, Stdout: p.stdout, Stderr: p.stderr, Getenv: p.getenv, Version: buildVersion()}
}

// exitError carries a specific exit status out of a command.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// execute runs the command line in this process's environment.
func execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return executeIn(ctx, args, process{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv})
}

// executeIn runs the command line and returns the process exit status.
func executeIn(ctx context.Context, args []string, p process) int {
	root := newRootCmd(p)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		fmt.Fprintf(p.stderr, "mqttdiag: %v\n", err)
		return 1
	}
	return 0
}

// newRootCmd builds the command tree.
func newRootCmd(p process) *cobra.Command {
	s := &app.Settings{}
	root := &cobra.Command{
		Use:   "mqttdiag",
		Short: "Diagnose MQTT broker logs: what is wrong, why, and what fixes it",
		Long: `mqttdiag follows Mosquitto and EMQX log files (or stdin), matches every line
against a knowledge base of error signatures, and prints one JSON diagnosis per
recognised fault on stdout: root cause, ranked workarounds, dead ends to avoid,
and the fields of the line (client id, address, ...). Its own logs go to stderr.`,
		Example: `  mqttdiag run --state /var/lib/mqttdiag/state.json /var/log/mosquitto/mosquitto.log
  mqttdiag scan --html incident.html /var/log/mosquitto/mosquitto.log
  mqttdiag explain '1795320306: Client dup already connected, closing old connection.'
  source <(mqttdiag completion bash)`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(p.stdin)
	root.SetOut(p.stdout)
	root.SetErr(p.stderr)
	registerGlobal(root, &s.Global)
	root.PersistentFlags().StringVar(&s.ConfigPath, "config", "", "YAML configuration file (also MQTTDIAG_CONFIG); flags override the environment, which overrides the file")
	root.PersistentPreRunE = func(c *cobra.Command, _ []string) error {
		if c.Parent() != nil && c.Parent().Name() == "config" {
			return nil // config check layers the configuration itself
		}
		sources, err := layer(c, s, p.getenv)
		*s = s.WithSources(sources)
		return err
	}
	run, scan := newRunCmd(s, p), newScanCmd(s, p)
	root.AddCommand(run, scan, newSignaturesCmd(s), newExplainCmd(s), newConfigCmd(root, s, p, run, scan), newVersionCmd())
	attachSignaturesCost(root, s)
	// cobra adds its completion command at Execute; made now, it is in
	// the tree for --help and the tests, with examples like every other.
	root.InitDefaultCompletionCmd()
	addCompletionExamples(root)
	return root
}

// layer sets the flags of c that the command line did not from the
// environment and the configuration file, and returns where each came
// from.
func layer(c *cobra.Command, s *app.Settings, getenv func(string) string) (app.Sources, error) {
	if s.ConfigPath == "" {
		s.ConfigPath = getenv(app.EnvName("config"))
	}
	var cf *app.ConfigFile
	if s.ConfigPath != "" {
		var err error
		if cf, err = app.LoadConfigFile(s.ConfigPath); err != nil {
			return nil, err
		}
	}
	return app.Layer(c.Flags(), cf, getenv, allFlagNames(c.Root()), c.Name())
}

// allFlagNames collects the flag names of a command tree.
func allFlagNames(root *cobra.Command) map[string]bool {
	names := map[string]bool{}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { names[f.Name] = true })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { names[f.Name] = true })
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	return names
}

// completionExamples are the --help examples of `completion SHELL`.
var completionExamples = map[string]string{
	"bash": `  source <(mqttdiag completion bash)
  mqttdiag completion bash > /etc/bash_completion.d/mqttdiag`,
	"zsh": `  source <(mqttdiag completion zsh)
  mqttdiag completion zsh > "${fpath[1]}/_mqttdiag"`,
	"fish": `  mqttdiag completion fish | source
  mqttdiag completion fish > ~/.config/fish/completions/mqttdiag.fish`,
	"powershell": `  mqttdiag completion powershell | Out-String | Invoke-Expression`,
}

func addCompletionExamples(root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.Name() != "completion" {
			continue
		}
		c.Example = `  source <(mqttdiag completion bash)
  mqttdiag completion zsh > "${fpath[1]}/_mqttdiag"
  mqttdiag completion fish > ~/.config/fish/completions/mqttdiag.fish`
		var shells []string
		for _, sh := range c.Commands() {
			sh.Example = completionExamples[sh.Name()]
			if !sh.Hidden && sh.Name() != "help" {
				shells = append(shells, sh.Name())
			}
		}
		// Without a Run of its own, cobra answers an unknown shell with
		// help and exit 0, which a setup script takes for success.
		c.Args = cobra.ArbitraryArgs
		c.RunE = func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return c.Help()
			}
			return fmt.Errorf("no completion for shell %q: want one of %s", args[0], strings.Join(shells, ", "))
		}
	}
}
