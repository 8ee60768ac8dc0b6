package inspect

import (
	"bytes"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// asPythonReads turns a source file's bytes into the text CPython's
// tokenizer sees, or says why Airlock cannot: a UTF-8 byte-order mark is
// dropped, a PEP 263 coding declaration on the first two lines is
// honoured (the ASCII-compatible single-byte codecs are decoded; any other,
// such as unicode_escape, which turns "\u000a" inside a comment into a
// new line of code, is refused), and "\r\n" and a lone "\r" end lines as
// "\n" does (a parser that reads "\r" as part of a comment misses the
// code after it).
func asPythonReads(src []byte) (text []byte, problem string) {
	src = bytes.TrimPrefix(src, utf8BOM)
	if enc, ok := codingOf(src); ok {
		switch normalizeCodec(enc) {
		case "utf-8", "utf8", "utf-8-sig", "ascii", "us-ascii":
		case "latin-1", "latin1", "iso-8859-1", "iso8859-1", "l1", "iso-latin-1":
			src, _ = charmap.ISO8859_1.NewDecoder().Bytes(src)
		case "cp1252", "windows-1252":
			src, _ = charmap.Windows1252.NewDecoder().Bytes(src)
		case "iso-8859-15", "latin-9":
			src, _ = charmap.ISO8859_15.NewDecoder().Bytes(src)
		default:
			return nil, "declares the source encoding " + enc + ", which Airlock does not decode as Python does: what runs is not what was read"
		}
	}
	if bytes.IndexByte(src, '\r') >= 0 {
		src = bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n"))
		// importlib's newline decoder holds back a final "\r" (it could
		// start a "\r\n") and never gets the rest: Python drops it.
		src = bytes.TrimSuffix(src, []byte("\r"))
		src = bytes.ReplaceAll(src, []byte("\r"), []byte("\n"))
	}
	return src, ""
}

var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// reCoding is PEP 263's declaration, as the tokenizer matches it.
var reCoding = regexp.MustCompile(`^[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)`)

// codingOf finds a coding declaration as tokenize.detect_encoding does for
// an import: on the first line, or on the second when the first is blank
// or a comment; lines end at "\n" only there.
func codingOf(src []byte) (string, bool) {
	lines := bytes.SplitN(src[:min(len(src), 4096)], []byte("\n"), 3)
	for i, line := range lines[:min(2, len(lines))] {
		if m := reCoding.FindSubmatch(line); m != nil {
			return string(m[1]), true
		}
		if i == 0 && !reBlankOrComment.Match(line) {
			return "", false
		}
	}
	return "", false
}

var reBlankOrComment = regexp.MustCompile(`^[ \t\f]*(?:[#\r\n]|$)`)

func normalizeCodec(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// pthLines are a .pth file's lines as site.py reads them: a byte-order
// mark dropped (Python 3.13 reads them as utf-8-sig) and split as
// str.splitlines splits (3.13; earlier versions split at "\n", "\r\n"
// and "\r", which this covers): "\v", "\f", the separators \x1c-\x1e,
// \x85, U+2028 and U+2029 end a line too.
func pthLines(src []byte) []string {
	text := strings.ReplaceAll(string(bytes.TrimPrefix(src, utf8BOM)), "\r\n", "\n")
	var lines []string
	start := 0
	for i, r := range text {
		switch r {
		case '\n', '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			lines = append(lines, text[start:i])
			start = i + utf8.RuneLen(r)
		}
	}
	return append(lines, text[start:])
}
