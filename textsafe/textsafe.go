// Package textsafe makes text from outside — upstream pages, archive member
// names, client input — safe for where Airlock shows it. Each destination
// has its own rule, and every place that shows such text calls the rule
// for its destination instead of writing its own:
//
//   - Terminal: control characters (ESC, BEL, CR, …) and bidirectional
//     overrides become visible escapes, so text cannot move the cursor,
//     recolour or erase what Airlock printed, or reorder a line.
//   - Line: Terminal, on one line (newlines escaped too): log-style fields,
//     CLI table cells.
//   - Header: printable ASCII on one line, capped (HTTP headers and reason
//     phrases).
//   - Slack: &, < and > escaped, so text cannot ping a channel or disguise
//     a link in a chat message.
//
// HTML is html/template's job (contextual escaping); JSON is encoding/json's.
package textsafe

import (
	"fmt"
	"io"
	"strings"
	"unicode"
)

// Terminal escapes control and bidi characters, keeping newlines and tabs.
func Terminal(s string) string { return escape(s, true) }

// Line is Terminal for a single line: newlines and tabs are escaped too.
func Line(s string) string { return escape(s, false) }

func escape(s string, multiline bool) string {
	if isPlain(s, multiline) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case multiline && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r == unicode.ReplacementChar:
			b.WriteString(`\ufffd`)
		case r < 0x20:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r == 0x7f, r >= 0x80 && r < 0xa0, isBidi(r):
			// \u form: also a valid escape inside JSON strings, which
			// encoding/json leaves these characters raw in.
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isPlain(s string, multiline bool) bool {
	for _, r := range s {
		if (r < 0x20 && !(multiline && (r == '\n' || r == '\t'))) || r == 0x7f || (r >= 0x80 && r < 0xa0) || isBidi(r) || r == unicode.ReplacementChar {
			return false
		}
	}
	return true
}

// isBidi reports the characters that change the display order of text
// (the "Trojan Source" characters) and invisible direction marks.
func isBidi(r rune) bool {
	switch {
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}

// Header keeps a value to printable ASCII on one line, at most 400 bytes.
func Header(s string) string {
	var b strings.Builder
	for _, c := range s {
		if b.Len() >= 400 {
			break
		}
		switch {
		case c == '\r' || c == '\n' || c == '\t':
			b.WriteByte(' ')
		case c < 0x20 || c > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// Slack escapes text for Slack-style chat messages (mrkdwn): &, < and >
// become entities, so "<!channel>" and "<url|label>" are shown, not acted
// on. Control characters, newlines and tabs are escaped as for Line: a
// member name cannot start a forged line of the message.
func Slack(s string) string {
	return slackEntities.Replace(Line(s))
}

var slackEntities = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// Writer escapes everything written to it as Terminal does: for a
// command's standard output, whose text comes from outside (JSON output
// stays valid: the escapes it adds are JSON escapes, and encoding/json
// never writes raw control characters).
type Writer struct{ W io.Writer }

func (w Writer) Write(p []byte) (int, error) {
	if _, err := io.WriteString(w.W, Terminal(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
