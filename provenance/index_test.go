package provenance

import (
	"fmt"
	"slices"
	"testing"

	"airlock/index"
)

// TestBuildIndex: releases in PEP 440 order, each with its files in page
// order, whatever order the page lists them in; yanked files, files with
// no sha256 and names with no version are left out; withProv points back
// to the nearest release that may have provenance.
func TestBuildIndex(t *testing.T) {
	sha := func(i int) index.Hashes { return index.Sha256(fmt.Sprintf("%064x", i)) }
	page := &index.Page{Name: "demo", ProvenanceKnown: true, Files: []index.File{
		{Filename: "demo-2.0.tar.gz", Hashes: sha(0)},                                          // 0
		{Filename: "demo-1.10-py3-none-any.whl", Hashes: sha(1), Provenance: "https://p/1.10"}, // 1
		{Filename: "demo-1.9.tar.gz", Hashes: sha(2)},                                          // 2
		{Filename: "demo-1.10.tar.gz", Hashes: sha(3)},                                         // 3
		{Filename: "demo-2.0-py3-none-any.whl", Hashes: sha(4)},                                // 4
		{Filename: "demo-1.9-py3-none-any.whl", Hashes: sha(5), Yanked: true},                  // 5
		{Filename: "demo-3.0.tar.gz"},                                                          // 6: no sha256
		{Filename: "demo.tar.gz", Hashes: sha(7)},                                              // 7: no version
		{Filename: "demo-1.10.0.zip", Hashes: sha(8)},                                          // 8: 1.10 again
	}}
	idx := buildIndex(page)
	type rel struct {
		raw   string
		files []int32
	}
	var got []rel
	for _, r := range idx.releases {
		got = append(got, rel{rawVersion(page, idx, r), slices.Clone(idx.filesOf(r))})
	}
	want := []rel{{"1.9", []int32{2}}, {"1.10", []int32{1, 3, 8}}, {"2.0", []int32{0, 4}}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("releases %v, want %v", got, want)
	}
	if fmt.Sprint(idx.withProv) != "[-1 1 1]" {
		t.Errorf("withProv %v, want [-1 1 1]", idx.withProv)
	}
}
