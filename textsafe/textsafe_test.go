package textsafe

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestTerminal(t *testing.T) {
	// An archive member named to erase the "held" line and print a fake
	// approval in green.
	evil := "x.pth\r\x1b[2K\x1b[32mAPPROVED OK\x1b[0m\x07"
	if got, want := Terminal(evil), `x.pth\x0d\x1b[2K\x1b[32mAPPROVED OK\x1b[0m\x07`; got != want {
		t.Errorf("Terminal = %q, want %q", got, want)
	}
	if got := Terminal("line one\nline\ttwo"); got != "line one\nline\ttwo" {
		t.Errorf("newlines and tabs changed: %q", got)
	}
	if got := Line("a\nb"); got != `a\x0ab` {
		t.Errorf("Line = %q", got)
	}
	if got := Terminal("abc\u202edcba\u2066"); got != `abc\u202edcba\u2066` {
		t.Errorf("bidi: %q", got)
	}
	if got := Terminal("naïve café ✓"); got != "naïve café ✓" {
		t.Errorf("plain text changed: %q", got)
	}
	if got := Terminal("\u009b31m"); got != `\u009b31m` {
		t.Errorf("C1 CSI: %q", got)
	}
}

func TestWriterKeepsJSONValid(t *testing.T) {
	var b strings.Builder
	enc := json.NewEncoder(Writer{&b})
	in := map[string]string{"file": "a\u202eb\x7fc\x1b[31m"}
	enc.Encode(in)
	var out map[string]string
	if err := json.Unmarshal([]byte(b.String()), &out); err != nil || out["file"] != in["file"] {
		t.Errorf("JSON through the writer: %v %q (%s)", err, out["file"], b.String())
	}
	if strings.ContainsAny(b.String(), "\u202e\x7f\x1b") {
		t.Errorf("raw characters reached the terminal: %q", b.String())
	}
}

func TestSlack(t *testing.T) {
	got := Slack("<!channel> <https://evil.example/approve|Click here to approve> & more")
	want := "&lt;!channel&gt; &lt;https://evil.example/approve|Click here to approve&gt; &amp; more"
	if got != want {
		t.Errorf("Slack = %q, want %q", got, want)
	}
	// A chat line stays one line: a member name cannot start a forged one.
	if got := Slack("x.pth\n:unlock: released\tby alice"); got != `x.pth\x0a:unlock: released\x09by alice` {
		t.Errorf("Slack kept a line break: %q", got)
	}
}

func TestHeader(t *testing.T) {
	if got := Header("a\r\nb\tc\x00é"); got != "a  b c??" {
		t.Errorf("Header = %q", got)
	}
}

func FuzzTerminal(f *testing.F) {
	f.Add("\x1b[2J\r\u202e")
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range Line(s) {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || isBidi(r) {
				t.Fatalf("Line(%q) left %U", s, r)
			}
		}
	})
}
