package storage

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"airlock/index"
)

func TestPageStreamsThroughTheStoreUnchanged(t *testing.T) {
	ctx := t.Context()
	s, err := Open(ctx, t.TempDir(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	up := time.Date(2026, 3, 24, 10, 0, 0, 123456000, time.UTC)
	cp := CachedPage{
		Page: index.Page{
			Name:     "demo",
			Versions: []string{"1.0", "2.0"},
			// Text that looks like the file list's key must not confuse the writer.
			Status:          &index.ProjectStatus{Status: "quarantined", Reason: `"files":null ]}`},
			ProvenanceKnown: true,
			Files: []index.File{
				{Filename: "demo-1.0.tar.gz", URL: "https://files.example/demo-1.0.tar.gz", Hashes: index.Sha256(strings.Repeat("a", 64)), Size: 10, UploadTime: up},
				{Filename: "demo-2.0-py3-none-any.whl", URL: "https://files.example/demo-2.0-py3-none-any.whl", Hashes: index.Hashes{{Algo: "md5", Value: "x"}, {Algo: "sha256", Value: strings.Repeat("b", 64)}},
					RequiresPython: ">=3.9", CoreMetadata: &index.CoreMetadata{Hashes: index.Sha256(strings.Repeat("c", 64))}, Yanked: true, YankedReason: "broken", Size: -1,
					Provenance: "https://up.example/integrity/demo/2.0/demo-2.0-py3-none-any.whl/provenance"},
			},
		},
		Validators: Validators{ETag: `"e1"`, LastModified: "Tue, 24 Mar 2026 10:00:00 GMT"},
		FetchedAt:  up,
	}
	if err := s.PutPage(ctx, cp); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetPage(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, cp) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, cp)
	}
	empty := CachedPage{Page: index.Page{Name: "empty"}, FetchedAt: up}
	if err := s.PutPage(ctx, empty); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetPage(ctx, "empty"); err != nil || !reflect.DeepEqual(got, empty) {
		t.Errorf("empty page: %+v %v", got, err)
	}
}

// Pages written whole by encoding/json (before streaming) still read.
func TestPageWrittenWholeStillReads(t *testing.T) {
	cp := CachedPage{Page: index.Page{Name: "old", Files: []index.File{{Filename: "old-1.0.tar.gz", URL: "https://f.example/old-1.0.tar.gz", Hashes: index.Sha256(strings.Repeat("d", 64)), Size: 3}}}}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	json.NewEncoder(zw).Encode(cp)
	zw.Close()
	zr, _ := gzip.NewReader(&buf)
	got, err := readPage(zr)
	if err != nil || !reflect.DeepEqual(got, cp) {
		t.Errorf("whole-document page: %+v %v", got, err)
	}
}
