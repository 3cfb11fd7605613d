package signatures

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// Parse decodes a JSON document holding one signature or an array of them
// and validates each. name is used in errors only. Unknown fields are
// rejected, so that a misspelt field fails here rather than silently
// disabling part of a signature. All problems are reported, joined.
func Parse(name string, data []byte) ([]*Signature, error) {
	start := skipSpace(data, 0)
	if start == len(data) {
		return nil, &Error{File: name, Line: 1, Err: errors.New("empty document: want a signature object or an array of them")}
	}
	var sigs []*Signature
	var errs []error
	parseOne := func(raw []byte, base int) {
		s, err := decodeSignature(name, data, raw, base)
		if err != nil {
			errs = append(errs, err)
			return
		}
		if verrs := validate(s, raw, lineOf(data, base)); len(verrs) > 0 {
			errs = append(errs, verrs...)
			return
		}
		sigs = append(sigs, s)
	}
	switch data[start] {
	case '{':
		end := start + len(bytes.TrimRightFunc(data[start:], isSpace))
		parseOne(data[start:end], start)
	case '[':
		dec := json.NewDecoder(bytes.NewReader(data))
		if _, err := dec.Token(); err != nil {
			return nil, syntaxError(name, data, err)
		}
		for dec.More() {
			base := skipSpaceComma(data, int(dec.InputOffset()))
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				errs = append(errs, syntaxError(name, data, err))
				return sigs, errors.Join(errs...)
			}
			if len(raw) == 0 || raw[0] != '{' {
				errs = append(errs, &Error{File: name, Line: lineOf(data, base), Err: errors.New("array element is not an object")})
				continue
			}
			parseOne(raw, base)
		}
		if _, err := dec.Token(); err != nil {
			errs = append(errs, syntaxError(name, data, err))
		}
		if _, err := dec.Token(); err != io.EOF {
			errs = append(errs, &Error{File: name, Line: lineOf(data, int(dec.InputOffset())), Err: errors.New("unexpected data after the array")})
		}
	default:
		return nil, &Error{File: name, Line: lineOf(data, start), Err: fmt.Errorf("document starts with %q: want a signature object or an array of them", data[start])}
	}
	return sigs, errors.Join(errs...)
}

// decodeSignature strictly decodes one object that starts at byte base of data.
func decodeSignature(name string, data, raw []byte, base int) (*Signature, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	s := new(Signature)
	err := dec.Decode(s)
	if err == nil {
		if dec.More() {
			err = errors.New("unexpected data after the signature object")
		} else {
			s.origin = Origin{File: name, Line: lineOf(data, base)}
			return s, nil
		}
	}
	e := &Error{File: name, Line: lineOf(data, base), ID: peekID(raw), Err: err}
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		e.Line = lineOf(data, base+int(se.Offset))
		e.Err = fmt.Errorf("invalid JSON: %w", se)
	case errors.As(err, &te):
		e.Line = lineOf(data, base+int(te.Offset))
		e.Field = te.Field
		e.Err = fmt.Errorf("has a JSON %s, want %s", te.Value, te.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		e.Field = field
		if off := bytes.Index(raw, []byte(`"`+field+`"`)); off >= 0 {
			e.Line = lineOf(data, base+off)
		}
		e.Err = errors.New("unknown field (misspelt? see the schema in README)")
	}
	return nil, e
}

// peekID extracts the id of a signature that failed to decode, so that its
// error can still name it.
func peekID(raw []byte) string {
	var v struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &v) == nil {
		return v.ID
	}
	// Invalid JSON: the id is still worth naming if it is readable.
	idField := regexp.MustCompile(`"id"\s*:\s*"([^"\\]{1,200})"`)
	if m := idField.FindSubmatch(raw); m != nil {
		return string(m[1])
	}
	return ""
}

func syntaxError(name string, data []byte, err error) error {
	e := &Error{File: name, Err: fmt.Errorf("invalid JSON: %w", err)}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		e.Line = lineOf(data, int(se.Offset))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		e.Line = lineOf(data, len(data))
		e.Err = errors.New("invalid JSON: unexpected end of file")
	}
	return e
}

func lineOf(data []byte, off int) int {
	if off > len(data) {
		off = len(data)
	}
	return 1 + bytes.Count(data[:off], []byte{'\n'})
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(rune(data[i])) {
		i++
	}
	return i
}

func skipSpaceComma(data []byte, i int) int {
	for i < len(data) && (isSpace(rune(data[i])) || data[i] == ',') {
		i++
	}
	return i
}

// MaxFileBytes bounds one signature file. Parsing costs about ten times a
// file's size in memory (a 150 MB file took 1.4 GiB), and the 2,021-
// signature stress corpus is 0.6 MB: 16 MiB leaves room for any real pack
// while keeping a mistaken path (a log, a dump) from exhausting memory.
const MaxFileBytes = 16 << 20

// LoadFile reads and parses one JSON file.
func LoadFile(path string) ([]*Signature, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read signature file: %w", err)
	}
	defer f.Close()
	data, err := readBounded(f, path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// readBounded reads r whole unless it holds more than MaxFileBytes.
func readBounded(r io.Reader, name string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read signature file %s: %w", name, err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("signature file %s: larger than %d MiB; is it a signature file? Split a pack that large into several files", name, MaxFileBytes>>20)
	}
	return data, nil
}

// LoadFS parses every *.json file under root in fsys, in lexical order.
// prefix is prepended to file names in errors and origins.
func LoadFS(fsys fs.FS, root, prefix string) ([]*Signature, error) {
	var names []string
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".json") {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list signature files in %s%s: %w", prefix, root, err)
	}
	sort.Strings(names)
	var all []*Signature
	var errs []error
	for _, n := range names {
		data, err := readFS(fsys, n, prefix+n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sigs, err := Parse(prefix+n, data)
		all = append(all, sigs...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return all, errors.Join(errs...)
}

func readFS(fsys fs.FS, n, name string) ([]byte, error) {
	f, err := fsys.Open(n)
	if err != nil {
		return nil, fmt.Errorf("read signature file %s: %w", name, err)
	}
	defer f.Close()
	return readBounded(f, name)
}

// Load parses signature files and directories (searched recursively for
// *.json files).
func Load(paths ...string) ([]*Signature, error) {
	var all []*Signature
	var errs []error
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("signatures: %w", err))
			continue
		}
		var sigs []*Signature
		if fi.IsDir() {
			sigs, err = LoadFS(os.DirFS(p), ".", filepath.Clean(p)+string(filepath.Separator))
		} else {
			sigs, err = LoadFile(p)
		}
		all = append(all, sigs...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return all, errors.Join(errs...)
}
