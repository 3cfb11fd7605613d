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
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	// A sidecar shares the host with a broker: trade a little CPU for a
	// smaller heap, unless the operator chose with GOGC or GOMEMLIMIT.
	// Measured on a 15M-line scan (BENCHMARKS.md): 35 costs about 3 % CPU
	// against 50 and keeps the peak RSS under 30 MiB; 25 costs more CPU for
	// little less memory.
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetGCPercent(35)
	}
	// SIGHUP first: its default action ends the process, and a reload
	// sent while run starts or drains must not (reload.go).
	catchHangups(os.Args[1:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(execute(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// exitError carries a specific exit status out of a command.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// execute runs the command line and returns the process exit status.
func execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd(stdin, stdout, stderr, os.Getenv)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		fmt.Fprintf(stderr, "mqttdiag: %v\n", err)
		return 1
	}
	return 0
}

// newRootCmd builds the command tree. env reads the environment (tests
// pass their own).
func newRootCmd(stdin io.Reader, stdout, stderr io.Writer, env func(string) string) *cobra.Command {
	g := &globalFlags{}
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
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	g.register(root)
	var configPath string
	root.PersistentFlags().StringVar(&configPath, "config", "", "YAML configuration file (also MQTTDIAG_CONFIG); flags override the environment, which overrides the file")
	root.PersistentPreRunE = func(c *cobra.Command, _ []string) error {
		if c.Parent() != nil && c.Parent().Name() == "config" {
			return nil // config check applies the configuration itself
		}
		path := configPath
		if path == "" {
			path = env(envName("config"))
		}
		var cf *configFile
		if path != "" {
			var err error
			if cf, err = loadConfigFile(path); err != nil {
				return err
			}
		}
		sources, err := applyConfig(c, cf, env, allFlagNames(c.Root()))
		g.configPath, g.configSources = path, sources
		return err
	}
	root.AddCommand(newRunCmd(g), newScanCmd(g), newSignaturesCmd(g), newExplainCmd(g), newConfigCmd(root, g, env), newVersionCmd())
	attachSignaturesCost(root, g)
	// cobra adds its completion command at Execute; made now, it is in
	// the tree for --help and the tests, with examples like every other.
	root.InitDefaultCompletionCmd()
	addCompletionExamples(root)
	return root
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
		for _, sh := range c.Commands() {
			sh.Example = completionExamples[sh.Name()]
		}
	}
}
