// Package cli is the plumbing airlock's commands share: each command's
// help and flags, and how the commands print decisions for a terminal
// (every text from upstreams and archives made safe first).
package cli

import (
	"airlock/policy"
	"airlock/textsafe"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Command is one command's help: what it does in a line, how it is
// called, and examples. Every command and subcommand has one, and its
// --help prints it (with the command's own flags) and exits 0.
type Command struct {
	Name     string // as typed after "airlock"
	Summary  string
	Usage    string
	Details  string
	Examples []string
}

// PrintHelp writes a command's help; fs may be nil for a command without flags.
func PrintHelp(w io.Writer, c *Command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "%s\n\nusage: %s\n", c.Summary, c.Usage)
	if c.Details != "" {
		fmt.Fprintf(w, "\n%s\n", Wrap(c.Details, 78))
	}
	if fs != nil && hasFlags(fs) {
		fmt.Fprint(w, "\nflags:\n")
		out := fs.Output()
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(out)
	}
	if len(c.Examples) > 0 {
		fmt.Fprint(w, "\nexamples:\n")
		for _, e := range c.Examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// NewFlags makes a command's flag set. Errors go to stderr; help is
// printed by parseFlags.
func NewFlags(c *Command, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	return fs
}

// ParseFlags parses args. done reports that the command should exit with
// code: 0 after --help (the help went to stdout), 2 after a bad flag.
func ParseFlags(c *Command, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, done bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		PrintHelp(stdout, c, fs)
		return 0, true
	}
	UsageError(stderr, c, "")
	return 2, true
}

// ParseArgs is ParseFlags for a command that takes exactly n arguments
// after its flags: any other count is a usage error (code 2).
func ParseArgs(c *Command, fs *flag.FlagSet, args []string, n int, stdout, stderr io.Writer) (code int, done bool) {
	if code, done := ParseFlags(c, fs, args, stdout, stderr); done {
		return code, done
	}
	if fs.NArg() != n {
		UsageError(stderr, c, "")
		return 2, true
	}
	return 0, false
}

// Subcommand finds the subcommand args[0] names among subs: done, with
// the exit code, when there is none (a usage error) or help was asked
// for.
func Subcommand(c *Command, subs map[string]*Command, args []string, stdout, stderr io.Writer) (sub string, help *Command, code int, done bool) {
	if len(args) == 0 {
		UsageError(stderr, c, "which subcommand?")
		return "", nil, 2, true
	}
	sub = args[0]
	if sub == "-h" || sub == "--help" || sub == "help" {
		PrintHelp(stdout, c, nil)
		return sub, nil, 0, true
	}
	help, ok := subs[sub]
	if !ok {
		UsageError(stderr, c, fmt.Sprintf("unknown subcommand %q", sub))
		return sub, nil, 2, true
	}
	return sub, help, 0, false
}

// UsageError reports a bad invocation: the message (if any), the usage
// line and where to read more.
func UsageError(stderr io.Writer, c *Command, msg string) {
	if msg != "" {
		fmt.Fprintf(stderr, "airlock %s: %s\n", c.Name, msg)
	}
	fmt.Fprintf(stderr, "usage: %s\nRun 'airlock %s --help' for details.\n", c.Usage, c.Name)
}

// Wrap breaks text into lines of at most width characters.
func Wrap(text string, width int) string {
	var b strings.Builder
	n := 0
	for _, word := range strings.Fields(text) {
		if n > 0 && n+1+len(word) > width {
			b.WriteByte('\n')
			n = 0
		} else if n > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += len(word)
	}
	return b.String()
}

// Cell is text from outside (names, reasons, notes, user agents) for one
// line of a table or a listing.
func Cell(s string) string { return textsafe.Line(s) }

// PrintJSON writes v as indented JSON.
func PrintJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// FirstNonEmpty is the first of s that is not empty.
func FirstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// PrintSignals writes the behavioural facts behind a decision.
func PrintSignals(w io.Writer, s *policy.Signals) {
	if s == nil {
		return
	}
	score := "unknown"
	if s.Score != nil {
		score = fmt.Sprint(*s.Score)
	}
	fmt.Fprintf(w, "      signals: score %s, flags [%s], repository %s", score, strings.Join(s.Flags, ", "), FirstNonEmpty(s.Repository, "none"))
	if s.Tag != nil {
		fmt.Fprintf(w, ", tag %s (%s %s)", s.Tag.Name, s.Tag.How, s.Tag.Time.Format(time.RFC3339))
	}
	fmt.Fprintln(w)
	for src, why := range s.Unknown {
		fmt.Fprintf(w, "      unknown %s: %s\n", src, why)
	}
}

// PrintReasons writes each reason with its evidence, indented.
func PrintReasons(w io.Writer, reasons []policy.Reason) {
	for _, r := range reasons {
		fmt.Fprintf(w, "      %s [%s]: %s\n", r.Check, r.Action, Cell(r.Message))
		keys := make([]string, 0, len(r.Evidence))
		for k := range r.Evidence {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "        %s: %s\n", k, Cell(evidenceValue(r.Evidence[k])))
		}
	}
}

// evidenceValue writes a number that came through JSON as people write it
// (1209600, not 1.2096e+06).
func evidenceValue(v any) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}
