package verify

import "testing"

// BenchmarkVerifyProvenance: verifications per second of a real PyPI
// provenance (one attestation) with the public-good root.
func BenchmarkVerifyProvenance(b *testing.B) {
	t := &testing.T{}
	v := production(t)
	whl := "abi3info-2024.10.3-py3-none-any.whl"
	data, prov := fixtures(t, whl), fixtures(t, whl+".provenance")
	sha := digest(data)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := v.VerifyProvenance(whl, sha, prov); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
}
