package app

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// Configuration comes from four places; the first that sets a setting
// wins: a command-line flag, an MQTTDIAG_* environment variable, the YAML
// file named by --config (or MQTTDIAG_CONFIG), the default.
//
// Every setting is a flag: the flag definitions are the one schema. A file
// key is the flag's long name, an environment variable MQTTDIAG_ and the
// name in capitals with "_" for "-". Layering on pflag, rather than viper
// or koanf, keeps that one schema, gives file:line errors from the YAML
// node positions, and makes a new flag configurable everywhere.

const envPrefix = "MQTTDIAG_"

// EnvName is the environment variable of a setting.
func EnvName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// ConfigFile is a parsed YAML configuration: setting name -> node.
type ConfigFile struct {
	path string
	keys map[string]*yaml.Node
}

// LoadConfigFile reads and parses the configuration file path.
func LoadConfigFile(path string) (*ConfigFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseConfigFile(path, data)
}

// ParseConfigFile parses data, the content of the configuration file path.
func ParseConfigFile(path string, data []byte) (*ConfigFile, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s:%s", path, yamlErrorWithLine(data, err))
	}
	cf := &ConfigFile{path: path, keys: map[string]*yaml.Node{}}
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

// yamlErrorWithLine turns the YAML parser's error into "LINE: message"
// (else " message"). The parser's own line is off by one for its parser
// (not scanner) errors: it counts from 0 where a construct began
// (go-yaml v3 yaml.go, parser.fail). The line given is instead the first
// one after the longest prefix of the file that parses, which is where the
// file stops being YAML; files too long to search keep the parser's line.
func yamlErrorWithLine(data []byte, err error) string {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, tail, ok := strings.Cut(rest, ": "); ok {
			if l, err := strconv.Atoi(n); err == nil {
				line, msg = l, tail
			}
		}
	}
	if l, ok := firstBadLine(data); ok {
		line = l
	}
	if line == 0 {
		return " " + msg
	}
	return fmt.Sprintf("%d: %s", line, msg)
}

// maxSearchedLines bounds the search of firstBadLine: each step parses a
// prefix of the file again.
const maxSearchedLines = 2000

// firstBadLine is the line after the longest prefix of data, in whole
// lines, that parses as YAML.
func firstBadLine(data []byte) (int, bool) {
	ends := []int{0} // offsets where a prefix of whole lines ends
	for i, c := range data {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) > maxSearchedLines {
		return 0, false
	}
	for k := len(ends) - 1; k >= 0; k-- {
		var n yaml.Node
		if yaml.Unmarshal(data[:ends[k]], &n) == nil {
			return k + 1, true
		}
	}
	return 0, false
}

// Path is the file's path.
func (cf *ConfigFile) Path() string { return cf.path }

// values returns the strings a node sets a setting to: one per list item.
func (cf *ConfigFile) values(name string, n *yaml.Node) ([]string, error) {
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

// Values returns what the file sets name to (nil, false when it does not
// set it).
func (cf *ConfigFile) Values(name string) ([]string, bool, error) {
	n, ok := cf.keys[name]
	if !ok {
		return nil, false, nil
	}
	vals, err := cf.values(name, n)
	return vals, true, err
}

// at is the file:line that sets name.
func (cf *ConfigFile) at(name string) string {
	return cf.path + ":" + strconv.Itoa(cf.keys[name].Line)
}

// isList reports whether a flag takes several values.
func isList(f *pflag.Flag) bool {
	t := f.Value.Type()
	return strings.HasSuffix(t, "Slice") || strings.HasSuffix(t, "Array")
}

// Layer sets every flag of fs not given on the command line from the
// environment, then from cf (nil for none), once, before the command
// reads them. known holds every setting of every command, so that a file
// shared by run and scan may set settings of either; command names the
// command in the hint for an unknown key. It returns where each
// setting's value came from.
func Layer(fs *pflag.FlagSet, cf *ConfigFile, getenv func(string) string, known map[string]bool, command string) (Sources, error) {
	var errs []error
	if cf != nil {
		var unknown []string
		for k := range cf.keys {
			if !known[k] {
				unknown = append(unknown, fmt.Sprintf("%s: %s: unknown setting (settings are the long flag names; see `mqttdiag %s --help`)", cf.at(k), k, command))
			}
		}
		sort.Strings(unknown)
		for _, u := range unknown {
			errs = append(errs, errors.New(u))
		}
	}
	sources := Sources{}
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" || f.Name == "config" {
			return
		}
		if f.Changed {
			sources[f.Name] = Source{Kind: FromFlag}
			return
		}
		if v := getenv(EnvName(f.Name)); v != "" {
			vals := []string{strings.TrimSpace(v)}
			if isList(f) {
				vals = SplitEnvList(v)
			}
			for _, val := range vals {
				if err := f.Value.Set(val); err != nil {
					errs = append(errs, fmt.Errorf("%s=%q: %w", EnvName(f.Name), v, err))
					return
				}
			}
			sources[f.Name] = Source{Kind: FromEnv, At: EnvName(f.Name)}
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
					errs = append(errs, fmt.Errorf("%s: %s: takes one value, not a list", cf.at(f.Name), f.Name))
					return
				}
				for _, val := range vals {
					if err := f.Value.Set(val); err != nil {
						errs = append(errs, fmt.Errorf("%s: %s: %w", cf.at(f.Name), f.Name, err))
						return
					}
				}
				sources[f.Name] = Source{Kind: FromFile, At: cf.at(f.Name)}
				return
			}
		}
		sources[f.Name] = Source{Kind: FromDefault}
	})
	return sources, errors.Join(errs...)
}

// SplitEnvList splits the value of a list setting's environment variable
// into its items: separated by commas or newlines, "\," a comma inside an
// item (MQTTDIAG_WEBHOOK_HEADER='Accept: a\, b'). Items are trimmed; empty
// ones are dropped.
func SplitEnvList(v string) []string {
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

// WriteEffective prints the effective settings of fs, the flags of
// `mqttdiag command`, as YAML, each with where it came from, secrets
// masked.
func WriteEffective(w io.Writer, command string, fs *pflag.FlagSet, sources Sources, getenv func(string) string) error {
	fmt.Fprintf(w, "# effective configuration of `mqttdiag %s` (flag > env > file > default)\n", command)
	var names []string
	fs.VisitAll(func(f *pflag.Flag) {
		if _, ok := sources[f.Name]; ok {
			names = append(names, f.Name)
		}
	})
	sort.Strings(names)
	for _, n := range names {
		f := fs.Lookup(n)
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
		comment := src.Kind.String()
		if src.At != "" {
			comment += " " + src.At
		}
		fmt.Fprintf(w, "%s: %s  # %s\n", n, val, comment)
	}
	// The webhook's credentials are not settings (never on the command
	// line or in the file): say whether the environment holds them.
	if fs.Lookup("webhook-token-file") != nil {
		for _, e := range []struct{ env, file string }{{EnvWebhookToken, "webhook-token-file"}, {EnvWebhookSecret, "webhook-secret-file"}} {
			state := "not set"
			if getenv(e.env) != "" {
				state = "set (" + masked + ")"
				if f := fs.Lookup(e.file); f != nil && f.Value.String() != "" {
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
