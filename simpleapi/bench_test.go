package simpleapi

import (
	"context"
	"io"
	"net/http"
	"testing"

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
					h.open(func(o *Options, _ *fakepypi.Server) { o.Attest = nil })
				}
				// Cache the page without rendering it: a listing would
				// already verify the earlier release's provenance.
				if _, err := h.srv.getPage(context.Background(), "abi3info"); err != nil {
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
