package index

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Foo_Bar", "foo-bar", true},
		{"foo.bar", "foo-bar", true},
		{"Foo--_.Bar", "foo-bar", true},
		{"abi3info", "abi3info", true},
		{"A", "a", true},
		{"zope.interface", "zope-interface", true},
		{"", "", false},
		{"-foo", "", false},
		{"foo-", "", false},
		{"foo/bar", "", false},
		{"..", "", false},
		{"foo bar", "", false},
		{"fóo", "", false},
		{strings.Repeat("a", 201), "", false},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"Foo_Bar", "a.b-c", "", "-", "A__B", "x/../y", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Normalize(s)
		if err != nil {
			return
		}
		// Idempotent, and safe as a path segment and storage key.
		if n2, err := Normalize(n); err != nil || n2 != n {
			t.Fatalf("Normalize(%q) = %q, not idempotent (%q, %v)", s, n, n2, err)
		}
		if strings.ContainsAny(n, "/\\.\x00_ ") || n != strings.ToLower(n) || strings.Contains(n, "--") {
			t.Fatalf("Normalize(%q) = %q contains forbidden characters", s, n)
		}
	})
}

func TestVersionFromFilename(t *testing.T) {
	tests := []struct{ project, file, want string }{
		{"abi3info", "abi3info-2024.10.3-py3-none-any.whl", "2024.10.3"},
		{"foo-bar", "foo_bar-1.0-1-cp311-cp311-manylinux_2_17_x86_64.whl", "1.0"},
		{"pypi-attestations", "pypi_attestations-0.0.19.tar.gz", "0.0.19"},
		{"foo-bar", "foo-bar-2.0.zip", "2.0"},
		{"foo-bar", "Foo.Bar-2.0rc1.tar.gz", "2.0rc1"},
		{"foo", "foo.txt", ""},
	}
	for _, tt := range tests {
		got, _ := VersionFromFilename(tt.project, tt.file)
		if got != tt.want {
			t.Errorf("VersionFromFilename(%q, %q) = %q, want %q", tt.project, tt.file, got, tt.want)
		}
	}
}

var base, _ = url.Parse("https://upstream.example/simple/demo/")

const upstreamJSON = `{
  "meta": {"api-version": "1.4"},
  "name": "demo",
  "project-status": {"status": "deprecated", "reason": "use demo2"},
  "versions": ["1.0", "1.1"],
  "files": [
    {"filename": "demo-1.0-py3-none-any.whl", "url": "https://files.example/p/demo-1.0-py3-none-any.whl",
     "hashes": {"sha256": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
     "requires-python": ">=3.8", "core-metadata": {"sha256": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},
     "yanked": "broken <build>", "size": 1234, "upload-time": "2024-10-08T20:17:29Z",
     "provenance": "https://upstream.example/integrity/demo/1.0/demo-1.0-py3-none-any.whl/provenance"},
    {"filename": "demo-1.1.tar.gz", "url": "../../files/demo-1.1.tar.gz",
     "hashes": {"sha256": "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc", "md5": "x"},
     "dist-info-metadata": true, "yanked": false, "size": 99, "upload-time": "2024-10-09T01:02:03.123456Z"}
  ]
}`

const upstreamHTML = `<!DOCTYPE html><html><head>
<meta name="pypi:repository-version" content="1.0">
<meta name="pypi:project-status" content="deprecated">
<meta name="pypi:project-status-reason" content="use demo2">
</head><body>
<a href="https://files.example/p/demo-1.0-py3-none-any.whl#sha256=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" data-requires-python="&gt;=3.8" data-dist-info-metadata="sha256=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" data-yanked="broken &lt;build&gt;">demo-1.0-py3-none-any.whl</a><br/>
<a href="../../files/demo-1.1.tar.gz#sha256=cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc" data-yanked>demo-1.1.tar.gz</a>
<a href="https://files.example/p/../evil">../evil</a>
<a>no href</a>
</body></html>`

func TestParseJSON(t *testing.T) {
	p, err := ParseJSON("demo", []byte(upstreamJSON), base)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Files) != 2 {
		t.Fatalf("got %d files, want 2", len(p.Files))
	}
	f := p.Files[0]
	if f.SHA256() != strings.Repeat("a", 64) || f.MetadataSHA256() != strings.Repeat("b", 64) ||
		!f.Yanked || f.YankedReason != "broken <build>" || f.Size != 1234 || f.RequiresPython != ">=3.8" ||
		!f.UploadTime.Equal(time.Date(2024, 10, 8, 20, 17, 29, 0, time.UTC)) || f.Provenance == "" {
		t.Errorf("file 0 parsed wrong: %+v", f)
	}
	g := p.Files[1]
	if g.URL != "https://upstream.example/files/demo-1.1.tar.gz" {
		t.Errorf("relative url resolved to %q", g.URL)
	}
	if g.CoreMetadata == nil || g.MetadataSHA256() != "" {
		t.Errorf("dist-info-metadata: true should give metadata without hash, got %+v", g.CoreMetadata)
	}
	if g.UploadTime.Nanosecond() != 123456000 {
		t.Errorf("fractional upload-time lost: %v", g.UploadTime)
	}
	if p.Status == nil || p.Status.Status != "deprecated" {
		t.Errorf("project-status lost: %+v", p.Status)
	}
}

func TestParseJSONRejects(t *testing.T) {
	for name, body := range map[string]string{
		"not json":       `{"meta":`,
		"api 2":          `{"meta":{"api-version":"2.0"},"files":[]}`,
		"bad sha":        `{"meta":{"api-version":"1.0"},"files":[{"filename":"a-1.tar.gz","url":"https://x/a","hashes":{"sha256":"zz"}}]}`,
		"slash filename": `{"meta":{"api-version":"1.0"},"files":[{"filename":"../a-1.tar.gz","url":"https://x/a","hashes":{}}]}`,
		"ftp url":        `{"meta":{"api-version":"1.0"},"files":[{"filename":"a-1.tar.gz","url":"ftp://x/a","hashes":{}}]}`,
		"bad time":       `{"meta":{"api-version":"1.0"},"files":[{"filename":"a-1.tar.gz","url":"https://x/a","hashes":{},"upload-time":"yesterday"}]}`,
		"bad yanked":     `{"meta":{"api-version":"1.0"},"files":[{"filename":"a-1.tar.gz","url":"https://x/a","hashes":{},"yanked":3}]}`,
		"negative size":  `{"meta":{"api-version":"1.0"},"files":[{"filename":"a-1.tar.gz","url":"https://x/a","hashes":{},"size":-1}]}`,
	} {
		if _, err := ParseJSON("a", []byte(body), base); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}

func TestParseHTML(t *testing.T) {
	p, err := ParseHTML("demo", []byte(upstreamHTML), base)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Files) != 2 {
		t.Fatalf("got %d files, want 2 (hostile anchors dropped): %+v", len(p.Files), p.Files)
	}
	f, g := p.Files[0], p.Files[1]
	if f.SHA256() != strings.Repeat("a", 64) || f.RequiresPython != ">=3.8" || f.YankedReason != "broken <build>" || f.MetadataSHA256() != strings.Repeat("b", 64) {
		t.Errorf("file 0 parsed wrong: %+v", f)
	}
	if !g.Yanked || g.YankedReason != "" {
		t.Errorf("bare data-yanked must mean yanked (PEP 592): %+v", g)
	}
	if g.URL != "https://upstream.example/files/demo-1.1.tar.gz" {
		t.Errorf("relative url resolved to %q", g.URL)
	}
	if strings.Join(p.Versions, ",") != "1.0,1.1" {
		t.Errorf("versions derived as %v", p.Versions)
	}
	if p.Status == nil || p.Status.Reason != "use demo2" {
		t.Errorf("status lost: %+v", p.Status)
	}
}

func rewriteForTest(f File) (string, string) {
	prov := ""
	if f.Provenance != "" {
		prov = "/integrity/demo/x/" + f.Filename + "/provenance"
	}
	return "/files/demo/" + f.Filename, prov
}

// TestRenderGolden renders a parsed page in both formats and compares with
// golden files (go test ./index -update rewrites them).
func TestRenderGolden(t *testing.T) {
	p, err := ParseJSON("demo", []byte(upstreamJSON), base)
	if err != nil {
		t.Fatal(err)
	}
	j, err := RenderJSON(ViewOf(p), rewriteForTest)
	if err != nil {
		t.Fatal(err)
	}
	h, err := RenderHTML(ViewOf(p), rewriteForTest)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := RenderProjectListHTML([]string{"abi3info", "demo"})
	lj, _ := RenderProjectListJSON([]string{"abi3info", "demo"})
	for name, got := range map[string][]byte{"page.json": j, "page.html": h, "list.html": l, "list.json": lj} {
		golden := filepath.Join("testdata", name+".golden")
		if *update {
			os.WriteFile(golden, got, 0o644)
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s:\n%s", name, golden, got)
		}
	}
	if bytes.Contains(j, []byte(`"dist-info-metadata"`)) {
		t.Error("JSON must never carry dist-info-metadata")
	}
	if bytes.Contains(j, []byte("files.example")) || bytes.Contains(h, []byte("files.example")) || bytes.Contains(h, []byte("upstream.example")) {
		t.Error("a rendered page still points at the upstream")
	}
}

// TestRoundTrip: what Airlock renders, Airlock (and so any client) parses
// back to the same files in both formats.
func TestRoundTrip(t *testing.T) {
	p, _ := ParseJSON("demo", []byte(upstreamJSON), base)
	local, _ := url.Parse("http://127.0.0.1:3180/simple/demo/")
	j, _ := RenderJSON(ViewOf(p), rewriteForTest)
	h, _ := RenderHTML(ViewOf(p), rewriteForTest)
	pj, err := ParseJSON("demo", j, local)
	if err != nil {
		t.Fatal(err)
	}
	ph, err := ParseHTML("demo", h, local)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range p.Files {
		for _, got := range []File{pj.Files[i], ph.Files[i]} {
			if got.SHA256() != f.SHA256() || got.Yanked != f.Yanked || got.YankedReason != f.YankedReason ||
				got.RequiresPython != f.RequiresPython || got.MetadataSHA256() != f.MetadataSHA256() {
				t.Errorf("round trip of %s: got %+v, want %+v", f.Filename, got, f)
			}
		}
		if !pj.Files[i].UploadTime.Equal(f.UploadTime) || pj.Files[i].Size != f.Size {
			t.Errorf("json round trip lost upload-time or size of %s", f.Filename)
		}
	}
	var raw map[string]any
	json.Unmarshal(j, &raw)
	if raw["meta"].(map[string]any)["api-version"] != "1.4" {
		t.Errorf("api-version = %v, want 1.4 with every size known", raw["meta"])
	}
}

func FuzzParseJSON(f *testing.F) {
	f.Add([]byte(upstreamJSON))
	f.Add([]byte(`{"meta":{"api-version":"1.0"},"files":[]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParseJSON("demo", body, base)
		if err != nil {
			return
		}
		checkParsed(t, p)
	})
}

func FuzzParseHTML(f *testing.F) {
	f.Add([]byte(upstreamHTML))
	f.Add([]byte(`<a href="x#sha256=` + strings.Repeat("0", 64) + `" data-yanked>demo-1.0.tar.gz</a>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := ParseHTML("demo", body, base)
		if err != nil {
			return
		}
		checkParsed(t, p)
	})
}

// checkParsed asserts what every parsed page must satisfy, whatever the input.
func checkParsed(t *testing.T, p *Page) {
	for _, f := range p.Files {
		if !ValidFilename(f.Filename) {
			t.Fatalf("invalid filename accepted: %q", f.Filename)
		}
		u, err := url.Parse(f.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			t.Fatalf("non-absolute url accepted: %q", f.URL)
		}
		if h := f.SHA256(); h != "" && len(h) != 64 {
			t.Fatalf("bad sha256 accepted: %q", h)
		}
	}
	if _, err := RenderJSON(ViewOf(p), rewriteForTest); err != nil {
		t.Fatal(err)
	}
	if _, err := RenderHTML(ViewOf(p), rewriteForTest); err != nil {
		t.Fatal(err)
	}
}

func TestSaysNoProvenance(t *testing.T) {
	with, without := File{Provenance: "https://x/p"}, File{}
	known, unknown := &Page{ProvenanceKnown: true}, &Page{}
	if known.SaysNoProvenance(with) || !known.SaysNoProvenance(without) || unknown.SaysNoProvenance(without) {
		t.Error("only an API 1.3+ page listing no provenance says there is none")
	}
}

func TestReadJSONRejectsAmbiguousDocuments(t *testing.T) {
	base, _ := url.Parse("https://up.example/simple/p/")
	for name, body := range map[string]string{
		"files twice":  `{"meta":{"api-version":"1.1"},"name":"p","files":[],"files":[]}`,
		"trailing":     `{"meta":{"api-version":"1.1"},"name":"p","files":[]} {"files":[]}`,
		"not a list":   `{"meta":{"api-version":"1.1"},"name":"p","files":{}}`,
		"no version":   `{"name":"p","files":[]}`,
		"cut in files": `{"meta":{"api-version":"1.1"},"name":"p","files":[{"filename":"p-1.tar.gz"`,
	} {
		if _, err := ReadJSON("p", strings.NewReader(body), base); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	// Keys in any order: meta after files still decides provenance.
	p, err := ReadJSON("p", strings.NewReader(`{"files":[{"filename":"p-1.tar.gz","url":"/p-1.tar.gz","hashes":{"SHA256":"`+strings.Repeat("A", 64)+`"}}],"name":"p","meta":{"api-version":"1.3"},"files-extra":null}`), base)
	if err != nil || !p.ProvenanceKnown || p.Files[0].SHA256() != strings.Repeat("a", 64) || p.Files[0].URL != "https://up.example/p-1.tar.gz" {
		t.Fatalf("reordered keys: %+v %v", p, err)
	}
}

// Globs are spelled as names are normalized, so that "acme_*" and
// "Acme.*" match the names they were written for.
func TestNormalizeGlob(t *testing.T) {
	for in, want := range map[string]string{
		"acme_*": "acme-*", "Acme.*": "acme-*", "ACME__tools": "acme-tools", "corp-*-lib": "corp-*-lib",
		"a._-b?": "a-b?", "[a-c]_x": "[a-c]-x", "[_.]x": "[_.]x", "torchtriton": "torchtriton", `acme\*`: `acme\*`,
	} {
		got, err := NormalizeGlob(in)
		if err != nil || got != want {
			t.Errorf("NormalizeGlob(%q) = %q, %v; want %q", in, got, err, want)
		}
		if n, err := Normalize(in); err == nil && n != got {
			t.Errorf("a plain name %q: glob %q, name %q", in, got, n)
		}
	}
	for _, bad := range []string{"", "acme[", "[a-"} {
		if _, err := NormalizeGlob(bad); err == nil {
			t.Errorf("NormalizeGlob(%q) accepted", bad)
		}
	}
	for pat, name := range map[string]string{"acme_*": "acme-tools", "Acme.*": "acme-lib"} {
		g, _ := NormalizeGlob(pat)
		n, _ := Normalize(strings.ReplaceAll(name, "-", "_"))
		if ok, _ := path.Match(g, n); !ok {
			t.Errorf("%q does not match %q", pat, name)
		}
	}
}
