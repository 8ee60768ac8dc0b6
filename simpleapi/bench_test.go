package simpleapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

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
		if _, err := h.srv.render(context.Background(), e, "application/vnd.pypi.simple.v1+json"); err != nil {
			b.Fatal(err)
		}
	}
}
