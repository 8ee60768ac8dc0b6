package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"airlock/internal/fakepypi"
)

// An upstream without PEP 658 metadata (this machine's PyPI mirror, many
// private indexes) makes resolvers download whole wheels, or ranges of
// them, each only after its checks. Airlock offers metadata for every
// wheel anyway and makes it from the verified wheel: uv lock and pip
// resolve from it, the wheel is downloaded from the upstream once, and
// what is served is byte for byte the wheel's own METADATA.
func TestMetadataFromWheelsWhereTheUpstreamHasNone(t *testing.T) {
	requireVenv(t)
	fake := fakepypi.New()
	defer fake.Close()
	old := time.Now().Add(-30 * 24 * time.Hour)
	var dists []*fakepypi.Dist
	metadata := map[string][]byte{}
	for _, spec := range []fakepypi.WheelSpec{
		{Name: "app", Version: "1.0", Requires: []string{"lib>=1.0"}},
		{Name: "lib", Version: "1.0"},
		{Name: "lib", Version: "1.1"},
	} {
		d := fake.AddWheel(spec, old)
		metadata[d.Filename], d.Metadata = d.Metadata, nil
		dists = append(dists, d)
	}
	a := startAirlock(t, t.TempDir(), airlockEnv(fake)...)
	index := a.URL + "/simple/"

	// The page offers metadata the upstream does not have.
	req, _ := http.NewRequest(http.MethodGet, index+"lib/", nil)
	req.Header.Set("Accept", "application/vnd.pypi.simple.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Files []struct {
			Filename     string `json:"filename"`
			CoreMetadata any    `json:"core-metadata"`
		} `json:"files"`
	}
	json.NewDecoder(resp.Body).Decode(&page)
	resp.Body.Close()
	if len(page.Files) != 2 {
		t.Fatalf("lib's page: %+v", page)
	}
	for _, f := range page.Files {
		if f.CoreMetadata != true {
			t.Errorf("%s: core-metadata %v, want true", f.Filename, f.CoreMetadata)
		}
	}

	// uv lock resolves from it.
	proj := t.TempDir()
	os.WriteFile(filepath.Join(proj, "pyproject.toml"), []byte("[project]\nname = \"p\"\nversion = \"0\"\nrequires-python = \">=3.8\"\ndependencies = [\"app\"]\n"), 0o644)
	lock := exec.Command(filepath.Join(venv, "bin", "uv"), "lock", "--no-cache", "--python", filepath.Join(venv, "bin", "python"))
	lock.Dir = proj
	lock.Env = append(cleanEnv(), "UV_DEFAULT_INDEX="+index)
	if out, err := run(t, lock); err != nil {
		t.Fatalf("uv lock: %v\n%s", err, out)
	}
	locked, _ := os.ReadFile(filepath.Join(proj, "uv.lock"))
	if !strings.Contains(string(locked), "name = \"lib\"\nversion = \"1.1\"") {
		t.Errorf("uv.lock does not pin lib 1.1:\n%s", locked)
	}
	made := metric(t, a.URL, `airlock_cache_requests_total{kind="metadata",result="extracted"}`)
	if made < 2 {
		t.Errorf("metadata made from wheels %v times, want app's and lib's", made)
	}

	// pip installs with it: each wheel came from the upstream once, for
	// the metadata and the install together.
	target := t.TempDir()
	if out, err := run(t, pipClient("pip", filepath.Join(venv, "bin", "python")).install(index, target, "app")); err != nil {
		t.Fatalf("pip install: %v\n%s", err, out)
	}
	assertInstalled(t, target, map[string]string{"app": "1.0", "lib": "1.1"})
	// pip asked for the same metadata: answered from what was made, the
	// wheels not read again.
	if n := metric(t, a.URL, `airlock_cache_requests_total{kind="metadata",result="extracted"}`); n != made {
		t.Errorf("metadata made %v times after pip's install, want %v (made once per wheel)", n, made)
	}
	if n := metric(t, a.URL, `airlock_cache_requests_total{kind="metadata",result="hit"}`); n < 2 {
		t.Errorf("pip's metadata requests were not answered from what was made (%v hits)", n)
	}
	for _, d := range dists {
		u, _ := url.Parse(fake.FileURL(d))
		want := 1
		if d.Version == "1.0" && d.Project == "lib" {
			want = 0 // never picked
		}
		if n := fake.Hits(u.Path); n != want {
			t.Errorf("%s fetched from the upstream %d times, want %d", d.Filename, n, want)
		}
	}

	// What is served is the wheel's METADATA.
	for _, d := range dists[:1] {
		resp, err := http.Get(a.URL + "/files/" + d.Project + "/" + d.Filename + ".metadata")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(body, metadata[d.Filename]) {
			t.Errorf("%s.metadata: %d, %q; want the wheel's METADATA", d.Filename, resp.StatusCode, body)
		}
	}
}
