// Package devset scores the built-in signature pack against the public
// development set: broker log lines that users pasted in public issue
// threads and forums, each with its link and the class the thread (or the
// line's wording) establishes. The set lives in
// signatures/testdata/devset/ (its README says what each field means and
// how the lines were collected).
//
// It holds tests only. The scoring test runs every line through the real
// path (an envelope.Decoder in auto mode with its default programs, as the
// pipeline reads a source; then the matcher over the built-in pack for the
// line's broker) and reports recall, false positives (as a share of the
// normal lines) and the right-class rate per broker and version line,
// with the misses grouped by kind. It fails only when a figure falls
// below the floor recorded from the last measurement, so that it guards
// the pack without blocking work on it.
//
// Beside that figure it scores each line with a test-local strip of the
// envelope the set records (brokerlog.Split after a regular expression):
// the gap between the two is what the envelope decoder does not yet
// recognise, or gives to another program.
package devset
