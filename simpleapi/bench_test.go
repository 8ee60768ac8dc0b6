package simpleapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"airlock/advisories"
	"airlock/gate"
	"airlock/internal/fakepypi"
)

// BenchmarkColdFetch measures one cold file request through Airlock (page
// cached, file not): "unchecked" without attestation gathering, "attested"
// with the provenance fetch and sigstore verification it adds.
func BenchmarkColdFetch(b *testing.B) {
	for _, withAttest := range []bool{false, true} {
		name := "unchecked"
		if withAttest {
			name = "attested"
		}
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				h, attested, _ := newAttestHarness(b, nil)
				if !withAttest {
					h.http.Close()
					h.store.Close()
					h.open(func(o *gate.Options, _ *fakepypi.Server) { o.Attest = nil })
				}
				// Cache the page without rendering it: a listing would
				// already verify the earlier release's provenance.
				if _, err := h.gate.Page(context.Background(), "abi3info"); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				resp, err := http.Get(h.http.URL + fileURL(attested))
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("%v %v", resp, err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}

// BenchmarkRenderBigPage renders (gates) a 2,000-file page of a project that
// never attested, as a first view would: every file is "missing" on an
// index that speaks PEP 740, so each version's prior release is looked up.
func BenchmarkRenderBigPage(b *testing.B) {
	h, _, _ := newAttestHarness(b, nil)
	for v := 0; v < 500; v++ {
		for k := 0; k < 4; k++ {
			h.fake.Add(&fakepypi.Dist{Project: "big", Version: fmt.Sprintf("1.%d", v),
				Filename: fmt.Sprintf("big-1.%d-cp3%d-none-any.whl", v, k), Data: []byte{byte(v), byte(k)}, UploadTime: uploaded})
		}
	}
	entry, err := h.gate.Page(context.Background(), "big")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := gate.NewEntry(entry.Cached) // a fresh entry: nothing rendered or indexed yet
		if _, err := h.srv.render(context.Background(), e, "application/vnd.pypi.simple.v1+json", true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWarmFileAdvisories is a warm file request (stored, decided)
// without a feed and with 15,000 OSV records loaded, none naming the file:
// what matching costs on the warm path.
func BenchmarkWarmFileAdvisories(b *testing.B) {
	for _, records := range []int{0, 15000} {
		b.Run(fmt.Sprintf("records=%d", records), func(b *testing.B) {
			h := newHarness(b)
			if records > 0 {
				dir := b.TempDir()
				for i := 0; i < records; i++ {
					p := filepath.Join(dir, fmt.Sprintf("pkg%d", i/3), fmt.Sprintf("MAL-2026-%d.json", i))
					os.MkdirAll(filepath.Dir(p), 0o755)
					os.WriteFile(p, []byte(fmt.Sprintf(`{"id":"MAL-2026-%d","affected":[{"package":{"ecosystem":"PyPI","name":"pkg%d"},"versions":["1.0"],
"database_specific":{"indicators":{"package_integrity":[{"filename":"f","hashes":{"sha256":"%064x"}}]}}}]}`, i, i/3, i)), 0o644)
				}
				feed := advisories.NewFeed([]string{dir}, nil, zerolog.Nop())
				if errs := feed.Refresh(context.Background()); len(errs) > 0 || feed.DB().Records != records {
					b.Fatal(errs)
				}
				h.config.Advisories = feed
				h.rebuild()
			}
			d := h.fake.AddWheel(fakepypi.WheelSpec{Name: "alpha", Version: "1.0"}, uploaded)
			url := h.http.URL + fileURL(d)
			warm := func() {
				resp, err := http.Get(url)
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("%v %v", resp, err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			warm()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				warm()
			}
		})
	}
}
