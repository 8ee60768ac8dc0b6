package advisories

import (
	"archive/zip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// Record writes a synthetic OSV record (never a real malicious package).
func record(id, project string, versions []string, sha string, extra string) string {
	vs := `"` + strings.Join(versions, `","`) + `"`
	if len(versions) == 0 {
		vs = ""
	}
	integrity := ""
	if sha != "" {
		integrity = `,"database_specific":{"indicators":{"package_integrity":[{"filename":"x.whl","hashes":{"sha256":"` + sha + `"}}]}}`
	}
	return `{"schema_version":"1.7.4","id":"` + id + `","published":"2026-03-24T10:00:00Z","summary":"Malicious code in ` + project + ` (PyPI)",
"affected":[{"package":{"ecosystem":"PyPI","name":"` + project + `"},"versions":[` + vs + `]` + integrity + extra + `}]}`
}

func TestParseAndMatch(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	recs := []string{
		record("MAL-2026-1", "Evil_Pkg", []string{"1.82.7", "1.82.8"}, "", ""),
		record("MAL-2026-2", "hashonly", nil, sha, ""),
		`{"id":"GHSA-xxxx","summary":"Path traversal","database_specific":{"severity":"HIGH"},"affected":[{"package":{"ecosystem":"PyPI","name":"web"},
		  "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.1.0"},{"introduced":"3.0"},{"last_affected":"3.2"}]}]}]}`,
		`{"id":"MAL-2026-3","withdrawn":"2026-04-01T00:00:00Z","affected":[{"package":{"ecosystem":"PyPI","name":"retracted"},"versions":["1.0"]}]}`,
		`{"id":"MAL-2026-4","affected":[{"package":{"ecosystem":"npm","name":"evil-pkg"},"versions":["1.82.7"]}]}`,
	}
	var list []*Advisory
	for _, r := range recs {
		a, err := Parse([]byte(r))
		if err != nil {
			t.Fatal(err)
		}
		if a != nil {
			list = append(list, a)
		}
	}
	if len(list) != 3 {
		t.Fatalf("parsed %d advisories, want 3 (withdrawn and npm records skipped)", len(list))
	}
	db := NewDB(list, time.Now())
	ids := func(as []*Advisory) string {
		var out []string
		for _, a := range as {
			out = append(out, a.ID)
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		project, version, sha, want string
	}{
		{"evil-pkg", "1.82.7", "", "MAL-2026-1"},
		{"evil-pkg", "1.82.8", "", "MAL-2026-1"},
		{"evil-pkg", "1.82.6", "", ""},
		{"hashonly", "9.9", sha, "MAL-2026-2"},
		{"anything", "1.0", sha, "MAL-2026-2"}, // the bytes, whatever they are called
		{"hashonly", "9.9", strings.Repeat("cd", 32), ""},
		{"web", "2.0.9", "", "GHSA-xxxx"},
		{"web", "2.1.0", "", ""},
		{"web", "3.2", "", "GHSA-xxxx"},
		{"web", "3.2.1", "", ""},
		{"retracted", "1.0", "", ""},
	} {
		if got := ids(db.Match(c.project, c.version, c.sha)); got != c.want {
			t.Errorf("Match(%s, %s): %q, want %q", c.project, c.version, got, c.want)
		}
	}
	a, _ := db.ByID("MAL-2026-1")
	if !a.Malicious || a.Link != "https://osv.dev/vulnerability/MAL-2026-1" || a.Published.IsZero() {
		t.Errorf("MAL record: %+v", a)
	}
	if v, _ := db.ByID("GHSA-xxxx"); v.Malicious || v.Severity != "high" {
		t.Errorf("vulnerability: %+v", v)
	}
	if _, err := Parse([]byte("{not json")); err == nil {
		t.Error("garbage parsed")
	}
}

func writeDir(t *testing.T, recs map[string]string) string {
	dir := t.TempDir()
	for name, body := range recs {
		p := filepath.Join(dir, "osv", "malicious", "pypi", name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(body), 0o644)
	}
	return dir
}

// A source that becomes unreadable keeps its last good records: a block
// must not lift because a feed broke.
func TestFeedKeepsLastGoodData(t *testing.T) {
	dir := writeDir(t, map[string]string{"evil-pkg/MAL-2026-1.json": record("MAL-2026-1", "evil-pkg", []string{"1.0"}, "", "")})
	f := NewFeed([]string{dir}, nil, zerolog.Nop())
	changed := 0
	f.OnChange = func(context.Context) { changed++ }
	if errs := f.Refresh(context.Background()); len(errs) != 0 || f.DB().Records != 1 || changed != 1 {
		t.Fatalf("first refresh: %v, %d records, %d changes", errs, f.DB().Records, changed)
	}
	os.WriteFile(filepath.Join(dir, "osv", "malicious", "pypi", "evil-pkg", "MAL-2026-9.json"), []byte("{broken"), 0o644)
	errs := f.Refresh(context.Background())
	if len(errs) != 1 || len(f.DB().Match("evil-pkg", "1.0", "")) != 1 {
		t.Fatalf("broken source: %v; the block must stay", errs)
	}
	st := f.Status()[0]
	if st.LastError == "" || st.Records != 1 || st.LastOK.IsZero() {
		t.Errorf("status: %+v", st)
	}
	os.RemoveAll(dir)
	if errs := f.Refresh(context.Background()); len(errs) != 1 || len(f.DB().Match("evil-pkg", "1.0", "")) != 1 {
		t.Errorf("vanished source: %v", errs)
	}
}

func zipOf(t *testing.T, recs map[string]string) []byte {
	p := filepath.Join(t.TempDir(), "feed.zip")
	out, _ := os.Create(p)
	zw := zip.NewWriter(out)
	for name, body := range recs {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	zw.Close()
	out.Close()
	b, _ := os.ReadFile(p)
	return b
}

func TestZipFileAndURLSources(t *testing.T) {
	data := zipOf(t, map[string]string{"osv/malicious/pypi/a/MAL-1.json": record("MAL-1", "a", []string{"1"}, "", ""),
		"osv/malicious/pypi/b/MAL-2.json": record("MAL-2", "b", []string{"2"}, "", "")})
	zp := filepath.Join(t.TempDir(), "records.zip")
	os.WriteFile(zp, data, 0o644)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(data) }))
	defer srv.Close()
	for _, src := range []string{zp, srv.URL + "/all.zip"} {
		f := NewFeed([]string{src}, nil, zerolog.Nop())
		if errs := f.Refresh(context.Background()); len(errs) != 0 || f.DB().Records != 2 {
			t.Errorf("%s: %v, %d records", src, errs, f.DB().Records)
		}
	}
}

// records makes n synthetic MAL records over n/3 projects.
func records(n int) map[string]string {
	out := make(map[string]string, n)
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("pkg%d", i/3)
		out[fmt.Sprintf("%s/MAL-2026-%d.json", p, i)] = record(fmt.Sprintf("MAL-2026-%d", i), p, []string{"1.0", fmt.Sprintf("2.%d", i)}, fmt.Sprintf("%064x", i), "")
	}
	return out
}

// BenchmarkLoad15000 reads a feed of 15,000 records from a directory.
func BenchmarkLoad15000(b *testing.B) {
	dir := b.TempDir()
	for name, body := range records(15000) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(body), 0o644)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := NewFeed([]string{dir}, nil, zerolog.Nop())
		if errs := f.Refresh(context.Background()); len(errs) != 0 || f.DB().Records != 15000 {
			b.Fatal(errs)
		}
	}
}

// BenchmarkMatchMiss is what a warm request for a file no advisory names
// costs with 15,000 records loaded.
func BenchmarkMatchMiss(b *testing.B) {
	var list []*Advisory
	for _, body := range records(15000) {
		a, _ := Parse([]byte(body))
		list = append(list, a)
	}
	db := NewDB(list, time.Now())
	sha := strings.Repeat("ab", 32)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if db.Match("requests", "2.32.3", sha) != nil {
			b.Fatal("matched")
		}
	}
}
