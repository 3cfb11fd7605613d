// Line and Batch are the tailer's output and the only types a consumer of
// it needs: the pipeline reads Batches, acknowledges them with Done and
// gives their slices back with Release.

package tailer

// Line is one line read from a log source.
//
// Offset and End are byte positions in the content stream named by Stream,
// so that a consumer can acknowledge exactly what it has processed and a
// checkpoint can resume exactly after it.
type Line struct {
	// Source is the path the line was read from, or "-" for standard input.
	Source string
	// Stream identifies the content stream the offsets refer to: for a file,
	// its device, inode and a fingerprint of its first bytes, plus a
	// generation that changes when the file is truncated in place. Two
	// different lines never share (Stream, Offset).
	Stream string
	// Offset is the byte offset of the line's first byte.
	Offset int64
	// End is the byte offset just past the line's terminator.
	End int64
	// Number is the 1-based line number in the stream.
	Number int64
	// Seq numbers lines per source, starting at 1, for acknowledgements.
	Seq uint64
	// Text is the line without its terminator ("\n" or "\r\n"). It may hold
	// invalid UTF-8: logs are bytes, and consumers must cope.
	Text string
	// Truncated reports that the line was longer than the reader's limit and
	// Text holds only its first part.
	Truncated bool
}

// Batch is a run of consecutive lines from one source, the unit the
// tailer sends.
type Batch struct {
	Lines []Line
	// Done, when not nil, is called exactly once when the batch has been
	// dealt with: every diagnosis made from its lines accepted by every
	// sink (at once when there were none). It lets the source's checkpoint
	// advance past the batch: at-least-once delivery rests on it.
	Done func()
	// release, when not nil, takes Lines back for the producer to reuse.
	release func([]Line)
}

// WithRelease returns b with a function that takes its Lines slice back
// once the consumer has called Release.
func (b Batch) WithRelease(release func([]Line)) Batch {
	b.release = release
	return b
}

// Release tells the producer that the consumer no longer refers to the
// Lines slice (the Line values in it; the texts are not reused), so it
// may be filled again: a producer reads millions of lines a minute, and
// reusing the slices is most of its garbage, and so of the heap's growth
// between collections. Calling it is optional; calling it twice is a bug.
func (b *Batch) Release() {
	if b.release != nil {
		r := b.release
		b.release = nil
		r(b.Lines)
	}
}
