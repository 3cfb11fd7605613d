package signatures

import (
	"fmt"
	"strings"
)

// Error is a problem with one signature document, located precisely enough
// for the user to fix it: file, line, signature id and field.
type Error struct {
	File  string
	Line  int    // 1-based; 0 when unknown
	ID    string // empty when the id itself is the problem
	Field string // JSON field name; empty for whole-document problems
	Err   error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.ID != "" {
		b.WriteString(": ")
		b.WriteString(e.ID)
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }
