package tailer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/mqttdiag/mqttdiag/internal/logline"
)

// follower reads one file path, across rotations.
type follower struct {
	t    *Tailer
	path string
	out  chan<- logline.Batch
	wake <-chan struct{} // nil when polling

	f   *os.File
	ino fileID
	// gen counts truncations of the same file, so that the content written
	// after a copytruncate is a new stream with its own diagnosis ids.
	gen int
	lr  *lineReader
	e   *emitter
}

type fileID struct{ dev, ino uint64 }

func (id fileID) String() string { return fmt.Sprintf("%d:%d", id.dev, id.ino) }

func idOf(fi fs.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}
	}
	return fileID{}
}

func (f *follower) run(ctx context.Context) error {
	o := &f.t.o
	first := true
	for {
		if err := f.open(ctx, first && !(o.fromBeginning || !o.follow)); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		first = false
		if err := f.drain(ctx, !o.follow); err != nil {
			f.close()
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if !o.follow {
			f.close()
			return nil
		}
		switched, err := f.followUntilReplaced(ctx)
		if err != nil || !switched {
			f.close()
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// open opens the path, waiting for it to appear when following. atEnd
// starts at the end of the file (counting its lines so that line numbers
// stay right).
func (f *follower) open(ctx context.Context, atEnd bool) error {
	o := &f.t.o
	warned := false
	for {
		file, err := os.Open(f.path)
		if err == nil {
			fi, err := file.Stat()
			if err != nil {
				file.Close()
				return fmt.Errorf("stat %s: %w", f.path, err)
			}
			if fi.IsDir() {
				file.Close()
				return fmt.Errorf("%s is a directory; give the log files or a glob", f.path)
			}
			f.f, f.ino = file, idOf(fi)
			var start, lines int64
			// A file that appeared while we waited is new: read all of it.
			if atEnd && !warned {
				start = fi.Size()
				if lines, err = countLines(file, start); err != nil {
					file.Close()
					return fmt.Errorf("read %s: %w", f.path, err)
				}
			}
			if _, err := file.Seek(start, io.SeekStart); err != nil {
				file.Close()
				return fmt.Errorf("seek %s: %w", f.path, err)
			}
			f.lr = newLineReader(file, start, o.maxLineBytes)
			f.e = &emitter{source: f.path, stream: fmt.Sprintf("%s:%d", f.ino, f.gen), num: lines, limit: o.batchLines, out: f.out}
			o.log.Debug().Str("file", f.path).Int64("offset", start).Msg("following")
			return nil
		}
		if !o.follow || !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("open log file: %w", err)
		}
		if !warned {
			o.log.Info().Str("file", f.path).Msg("waiting for the log file to appear")
			warned = true
		}
		if !f.wait(ctx) {
			return ctx.Err()
		}
	}
}

// countLines counts newlines in the first n bytes of file.
func countLines(file *os.File, n int64) (int64, error) {
	buf := make([]byte, 256<<10)
	var lines int64
	r := io.NewSectionReader(file, 0, n)
	for {
		k, err := r.Read(buf)
		lines += int64(bytes.Count(buf[:k], []byte{'\n'}))
		if err == io.EOF {
			return lines, nil
		}
		if err != nil {
			return lines, err
		}
	}
}

// drain reads every complete line now in the file and sends them. atEOF
// also emits an unterminated last line.
func (f *follower) drain(ctx context.Context, atEOF bool) error {
	for {
		l, err := f.lr.next(atEOF)
		if err == errNoLine {
			if !f.e.flush(ctx) {
				return ctx.Err()
			}
			return nil
		}
		if err != nil {
			f.e.flush(ctx)
			return fmt.Errorf("read %s: %w", f.path, err)
		}
		f.e.add(l)
		if f.e.full() && !f.e.flush(ctx) {
			return ctx.Err()
		}
	}
}

// followUntilReplaced reads appended lines until the path names another
// file (rotation, deletion and re-creation) or the file shrinks below what
// was read (truncation). It returns true when the caller should open the
// path again.
func (f *follower) followUntilReplaced(ctx context.Context) (bool, error) {
	for {
		if !f.wait(ctx) {
			return false, nil
		}
		if err := f.drain(ctx, false); err != nil {
			return false, err
		}
		fi, err := os.Stat(f.path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // deleted or renamed away; keep reading the old file until a new one appears
		case err != nil:
			// Permission changes and stale NFS handles are transient
			// more often than not: report and keep going.
			f.t.o.log.Warn().Err(err).Str("file", f.path).Msg("cannot stat log file; retrying")
			continue
		}
		if id := idOf(fi); id != f.ino {
			// Rotated: finish the old file, then switch.
			if err := f.drain(ctx, true); err != nil {
				return false, err
			}
			f.t.o.log.Info().Str("file", f.path).Msg("log file was replaced; reading the new one from its beginning")
			f.close()
			f.gen = 0
			return true, nil
		}
		if fi.Size() < f.lr.offset() {
			f.t.o.log.Info().Str("file", f.path).Msg("log file was truncated; reading from its beginning")
			f.close()
			f.gen++
			return true, nil
		}
	}
}

// wait blocks until the file may have changed.
func (f *follower) wait(ctx context.Context) bool {
	d := f.t.o.poll
	if d == 0 {
		d = time.Second
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-f.wake:
	case <-timer.C:
	}
	return true
}

func (f *follower) close() {
	if f.f != nil {
		f.f.Close()
		f.f = nil
	}
}
