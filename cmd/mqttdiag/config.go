package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// Configuration comes from four places; the first that sets a setting
// wins: a command-line flag, an MQTTDIAG_* environment variable, the
// YAML file named by --config (or MQTTDIAG_CONFIG), the default.
//
// Every setting is a flag: the flag definitions are the one schema. A
// file key is the flag's long name, an environment variable is
// MQTTDIAG_ and the name in upper case with "-" as "_". Doing this on top
// of pflag, rather than with viper or koanf, keeps that single schema,
// gives file:line errors from the YAML node positions, and makes a new
// flag configurable everywhere without further code.

const envPrefix = "MQTTDIAG_"

// envName is the environment variable for a flag.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// source says where a setting's value came from.
type source struct {
	kind string // "flag", "env", "file", "default"
	at   string // env var name, or file:line
}

// configFile is a parsed YAML configuration: flag name -> node.
type configFile struct {
	path string
	keys map[string]*yaml.Node
}

func loadConfigFile(path string) (*configFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parseConfigFile(path, data)
}

// parseConfigFile parses the content of the config file path.
func parseConfigFile(path string, data []byte) (*configFile, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s:%s", path, yamlErrorWithLine(err))
	}
	cf := &configFile{path: path, keys: map[string]*yaml.Node{}}
	if len(doc.Content) == 0 {
		return cf, nil // an empty file sets nothing
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: the configuration must be a mapping of setting: value", path, root.Line)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if _, dup := cf.keys[k.Value]; dup {
			return nil, fmt.Errorf("%s:%d: %s: set twice", path, k.Line, k.Value)
		}
		cf.keys[k.Value] = v
	}
	return cf, nil
}

// yamlErrorWithLine turns "yaml: line 3: ..." into "3: ..." (else " ...").
func yamlErrorWithLine(err error) string {
	m := regexp.MustCompile(`^yaml: line (\d+): (.*)$`).FindStringSubmatch(err.Error())
	if m == nil {
		return " " + err.Error()
	}
	return m[1] + ": " + m[2]
}

// values returns the strings a node sets a flag to: one per sequence item.
func (cf *configFile) values(name string, n *yaml.Node) ([]string, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return []string{n.Value}, nil
	case yaml.SequenceNode:
		var out []string
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%s:%d: %s: list items must be plain values", cf.path, item.Line, name)
			}
			out = append(out, item.Value)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s:%d: %s: want a value or a list of values", cf.path, n.Line, name)
}

// isList reports whether a flag takes several values.
func isList(f *pflag.Flag) bool {
	t := f.Value.Type()
	return strings.HasSuffix(t, "Slice") || strings.HasSuffix(t, "Array")
}

// applyConfig sets every flag of c that was not given on the command line
// from the environment, then from the config file. known holds every flag
// name of every command, so that a file shared by run and scan may set
// settings of either. It returns where each flag's value came from.
func applyConfig(c *cobra.Command, cf *configFile, getenv func(string) string, known map[string]bool) (map[string]source, error) {
	var errs []error
	if cf != nil {
		var unknown []string
		for k := range cf.keys {
			if !known[k] {
				unknown = append(unknown, fmt.Sprintf("%s:%d: %s: unknown setting (settings are the long flag names; see `mqttdiag %s --help`)", cf.path, cf.keys[k].Line, k, c.Name()))
			}
		}
		sort.Strings(unknown)
		for _, u := range unknown {
			errs = append(errs, errors.New(u))
		}
	}
	sources := map[string]source{}
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" || f.Name == "config" {
			return
		}
		if f.Changed {
			sources[f.Name] = source{kind: "flag"}
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			vals := []string{strings.TrimSpace(v)}
			if isList(f) {
				vals = splitEnvList(v)
			}
			for _, val := range vals {
				if err := f.Value.Set(val); err != nil {
					errs = append(errs, fmt.Errorf("%s=%q: %w", envName(f.Name), v, err))
					return
				}
			}
			sources[f.Name] = source{kind: "env", at: envName(f.Name)}
			return
		}
		if cf != nil {
			if n, ok := cf.keys[f.Name]; ok {
				vals, err := cf.values(f.Name, n)
				if err != nil {
					errs = append(errs, err)
					return
				}
				if len(vals) > 1 && !isList(f) {
					errs = append(errs, fmt.Errorf("%s:%d: %s: takes one value, not a list", cf.path, n.Line, f.Name))
					return
				}
				for _, val := range vals {
					if err := f.Value.Set(val); err != nil {
						errs = append(errs, fmt.Errorf("%s:%d: %s: %w", cf.path, n.Line, f.Name, err))
						return
					}
				}
				sources[f.Name] = source{kind: "file", at: cf.path + ":" + strconv.Itoa(n.Line)}
				return
			}
		}
		sources[f.Name] = source{kind: "default"}
	})
	return sources, errors.Join(errs...)
}

// splitEnvList splits the value of a list setting's environment variable
// into its items: they are separated by commas or newlines, and "\,"
// is a comma inside an item (MQTTDIAG_WEBHOOK_HEADER='Accept: a\, b').
// Items are trimmed; empty ones are dropped.
func splitEnvList(v string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		if item := strings.TrimSpace(cur.String()); item != "" {
			out = append(out, item)
		}
		cur.Reset()
	}
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\\' && i+1 < len(v) && v[i+1] == ',':
			cur.WriteByte(',')
			i++
		case v[i] == ',' || v[i] == '\n':
			flush()
		default:
			cur.WriteByte(v[i])
		}
	}
	flush()
	return out
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

// secretFlag reports whether a setting holds a secret that must never be
// printed.
func secretFlag(name string) bool {
	for _, w := range []string{"token", "secret", "password", "hmac"} {
		if strings.Contains(name, w) && !strings.HasSuffix(name, "-file") {
			return true
		}
	}
	return false
}

// writeEffective prints the effective settings of c as YAML, each with
// where it came from, secrets masked.
func writeEffective(w io.Writer, c *cobra.Command, sources map[string]source, getenv func(string) string) error {
	fmt.Fprintf(w, "# effective configuration of `mqttdiag %s` (flag > env > file > default)\n", c.Name())
	var names []string
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if _, ok := sources[f.Name]; ok {
			names = append(names, f.Name)
		}
	})
	sort.Strings(names)
	for _, n := range names {
		f := c.Flags().Lookup(n)
		val := f.Value.String()
		if isList(f) {
			if sv, ok := f.Value.(pflag.SliceValue); ok {
				items := sv.GetSlice()
				for i := range items {
					items[i] = maskSetting(n, items[i])
				}
				if len(items) == 0 {
					val = "[]"
				} else {
					val = "[" + strings.Join(quoteAll(items), ", ") + "]"
				}
			}
		} else {
			val = maskSetting(n, val)
			if f.Value.Type() == "string" {
				val = quoteYAML(val)
			}
		}
		src := sources[n]
		comment := src.kind
		if src.at != "" {
			comment += " " + src.at
		}
		fmt.Fprintf(w, "%s: %s  # %s\n", n, val, comment)
	}
	// The webhook's credentials are not settings (never on the command
	// line or in the file): say whether the environment holds them.
	if c.Flags().Lookup("webhook-token-file") != nil {
		for _, e := range []struct{ env, file string }{{envWebhookToken, "webhook-token-file"}, {envWebhookSecret, "webhook-secret-file"}} {
			state := "not set"
			if getenv(e.env) != "" {
				state = "set (" + masked + ")"
				if f := c.Flags().Lookup(e.file); f != nil && f.Value.String() != "" {
					state += ", unused: " + e.file + " is set"
				}
			}
			fmt.Fprintf(w, "# $%s: %s\n", e.env, state)
		}
	}
	return nil
}

func quoteAll(items []string) []string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = quoteYAML(s)
	}
	return out
}

// quoteYAML renders a scalar so that YAML reads it back as the same string.
func quoteYAML(s string) string {
	b, err := yaml.Marshal(s)
	if err != nil {
		return strconv.Quote(s)
	}
	return strings.TrimSpace(string(b))
}

func newConfigCmd(root *cobra.Command, g *globalFlags, env func(string) string) *cobra.Command {
	c := &cobra.Command{
		Use:     "config",
		Short:   "Work with mqttdiag's configuration file",
		Example: "  mqttdiag config check --config /etc/mqttdiag/mqttdiag.yaml",
	}
	var target string
	check := &cobra.Command{
		Use:   "check",
		Short: "Validate the configuration and print the effective settings (secrets masked)",
		Long: `check reads the configuration as the command given by --for would (flags,
MQTTDIAG_* environment variables, the --config file, defaults), checks every
value as that command does before it starts (the signatures, CA and token
files and --broker-config included), reports a problem with the file and line
or the environment variable that set it, and prints the effective settings,
each with where it came from. Secrets are shown as ****.`,
		Example: "  mqttdiag config check --config /etc/mqttdiag/mqttdiag.yaml\n  MQTTDIAG_DEDUP_WINDOW=5m mqttdiag config check --config mqttdiag.yaml --for run",
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			sub, _, err := root.Find([]string{target})
			if err != nil || sub == root || sub.Name() != target {
				return fmt.Errorf("--for %q: want run or scan", target)
			}
			path, _ := c.Flags().GetString("config")
			if path == "" {
				path = env(envName("config"))
			}
			var cf *configFile
			if path != "" {
				if cf, err = loadConfigFile(path); err != nil {
					return err
				}
			}
			sub.InheritedFlags() // merges the root's persistent flags into sub.Flags()
			sources, err := applyConfig(sub, cf, env, allFlagNames(root))
			if err != nil {
				return err
			}
			// The values, as the command would check them before starting.
			if check := g.checks[sub.Name()]; check != nil {
				if err := check(); err != nil {
					return locate(err, sources)
				}
			}
			return writeEffective(c.OutOrStdout(), sub, sources, env)
		},
	}
	check.Flags().StringVar(&target, "for", "run", "the command whose settings to check: run or scan")
	c.AddCommand(check)
	return c
}
