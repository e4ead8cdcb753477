package config

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a config file, located by line and key path.
type Problem struct {
	File string // the file name as given, or "" for in-memory input
	Line int    // 1-based; 0 when unknown
	Path string // the key path, like routes[2].upstream; "" when not known
	Msg  string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteByte(':')
	}
	switch {
	case p.Line > 0 && p.File != "":
		fmt.Fprintf(&b, "%d:", p.Line)
	case p.Line > 0:
		fmt.Fprintf(&b, "line %d:", p.Line)
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in one file. It is the error Load and
// Parse return, so a user fixes a file in one pass instead of one error at a
// time.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}
