package tailer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// stateVersion is the version of the state file format written.
const stateVersion = 1

// stateFile is the on-disk form of the checkpoints (README "State file").
// Like Loki's positions file it is small JSON, rewritten whole.
type stateFile struct {
	Version int `json:"version"`
	// Inputs are the PATH arguments of the run that wrote the file: a file
	// found at start under one of them but absent from Files appeared
	// while mqttdiag was down, and is read from its beginning.
	Inputs []string     `json:"inputs"`
	Files  []stateEntry `json:"files"`
	// Ended are streams read to their end (finished rotated files,
	// generations ended by a truncation), the most recent ones: a file
	// found later that holds one of them (its copy, or the file itself)
	// is read on from where it ended, under its stream, never again.
	Ended []stateEntry `json:"ended,omitempty"`
	// Journals are the checkpoints of journald inputs.
	Journals []stateJournal `json:"journals,omitempty"`
}

// stateJournal is the checkpoint of one journald input.
type stateJournal struct {
	// Input is the input's argument, "journald:UNIT".
	Input string `json:"input"`
	// Cursor is the journal cursor of the last entry acknowledged (or,
	// before any was, of the entry the input started after); empty when
	// there was none: the input then starts at the beginning.
	Cursor string `json:"cursor,omitempty"`
	// Line is the number of entries read before the cursor's.
	Line int64 `json:"line"`
}

// journal returns the checkpoint of the journald input spec.
func (s *stateFile) journal(spec string) (stateJournal, bool) {
	if s == nil {
		return stateJournal{}, false
	}
	for _, j := range s.Journals {
		if j.Input == spec {
			return j, true
		}
	}
	return stateJournal{}, false
}

// stateEntry is the checkpoint of one content stream.
type stateEntry struct {
	// Path is the name the file had when last seen.
	Path string `json:"path"`
	// Dev, Inode and Btime (birth time, ns; 0 when the filesystem has
	// none) identify the file.
	Dev   uint64 `json:"dev"`
	Inode uint64 `json:"inode"`
	Btime int64  `json:"btime,omitempty"`
	// Fingerprint is a hash of the first FingerprintBytes bytes, or of the
	// first line when shorter, over FingerprintBytes bytes; empty until the
	// file has a first line.
	Fingerprint      string `json:"fingerprint,omitempty"`
	FingerprintBytes int    `json:"fingerprint_bytes,omitempty"`
	// Prefix is the same hash over the first PrefixBytes bytes as far as
	// they were read (at most 4096), Tail over the 64 bytes (fewer at the
	// start) before TailAt, where the file was read to: with them a file
	// is told from another with the same first line.
	Prefix      string `json:"prefix,omitempty"`
	PrefixBytes int    `json:"prefix_bytes,omitempty"`
	Tail        string `json:"tail,omitempty"`
	TailAt      int64  `json:"tail_at,omitempty"`
	// Generation counts truncations of the file (copytruncate).
	Generation int `json:"generation"`
	// Stream is the stream id diagnosis ids are derived from.
	Stream string `json:"stream,omitempty"`
	// Offset is the byte offset up to which every line was acknowledged;
	// Line is the number of lines before it.
	Offset int64 `json:"offset"`
	Line   int64 `json:"line"`

	c content // the hashes decoded, once: when loaded or set
}

func (e stateEntry) id() fileID { return fileID{dev: e.Dev, ino: e.Inode, btime: e.Btime} }

func (e stateEntry) fingerprint() fingerprint { return e.c.fp }
func (e stateEntry) content() content         { return e.c }

func (e *stateEntry) setContent(c content) {
	e.c = c
	e.Fingerprint, e.FingerprintBytes = c.fp.String(), c.fp.n
	e.Prefix, e.PrefixBytes = c.prefix.String(), c.prefix.n
	e.Tail, e.TailAt = c.tail.String(), 0
	if c.tail.known() {
		e.TailAt = c.tailAt
	}
}

// decode checks the entry and decodes its hashes.
func (e *stateEntry) decode() error {
	var err1, err2, err3 error
	e.c.fp, err1 = parseFingerprint(e.Fingerprint, e.FingerprintBytes, FingerprintBytes)
	e.c.prefix, err2 = parseFingerprint(e.Prefix, e.PrefixBytes, prefixBytes)
	if e.Tail != "" || e.TailAt != 0 {
		e.c.tailAt = e.TailAt
		e.c.tail, err3 = parseFingerprint(e.Tail, int(min(e.TailAt, tailBytes)), tailBytes)
	}
	if err := errors.Join(err1, err2, err3); err != nil {
		return err
	}
	if e.Offset < 0 || e.Line < 0 || e.Generation < 0 || e.TailAt < 0 || e.Path == "" {
		return errors.New("negative offset, line, generation or tail_at, or no path")
	}
	return nil
}

// loadState reads a state file. A missing file is a first run (nil, nil).
func loadState(path string) (*stateFile, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state file %s: %w", path, err)
	}
	return parseState(path, data)
}

// parseState parses the content of the state file path.
func parseState(path string, data []byte) (*stateFile, error) {
	var s stateFile
	bad := func(err error) error {
		return fmt.Errorf("state file %s is corrupt (%w): move it aside to start over, files then start at their end as on a first run, or restore it from a backup", path, err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, bad(err)
	}
	if s.Version != stateVersion {
		return nil, bad(fmt.Errorf("version %d, this mqttdiag reads version %d", s.Version, stateVersion))
	}
	if s.Files == nil {
		// Taken for "no files", every file under the inputs would be
		// read again from its beginning.
		return nil, bad(errors.New(`"files" is null or missing; mqttdiag writes a list, [] when it follows no file`))
	}
	for i := range s.Files {
		if err := s.Files[i].decode(); err != nil {
			return nil, bad(fmt.Errorf("files[%d]: %w", i, err))
		}
	}
	for i := range s.Ended {
		if err := s.Ended[i].decode(); err != nil {
			return nil, bad(fmt.Errorf("ended[%d]: %w", i, err))
		}
	}
	for i, j := range s.Journals {
		if !IsJournal(j.Input) || j.Line < 0 {
			return nil, bad(fmt.Errorf("journals[%d]: input %q is not journald:UNIT, or line is negative", i, j.Input))
		}
		if j.Cursor != "" {
			if _, err := parseCursor(j.Cursor); err != nil {
				return nil, bad(fmt.Errorf("journals[%d]: %w", i, err))
			}
		}
	}
	return &s, nil
}
