package pullthrough

import (
	"archive/zip"
	"bytes"
	"errors"
	"strings"
	"testing"
)

func zipOf(t *testing.T, files map[string]string) *bytes.Reader {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, _ := zw.Create(name)
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(buf.Bytes())
}

func TestWheelMetadata(t *testing.T) {
	meta := "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
	r := zipOf(t, map[string]string{"demo/__init__.py": "", "demo-1.0.dist-info/METADATA": meta, "demo-1.0.dist-info/RECORD": ""})
	if got, err := WheelMetadata(r, r.Size(), 1<<20); err != nil || string(got) != meta {
		t.Errorf("a wheel's METADATA: %q %v", got, err)
	}
	for name, files := range map[string]map[string]string{
		"none":               {"demo/__init__.py": ""},
		"two":                {"a-1.dist-info/METADATA": meta, "b-1.dist-info/METADATA": meta},
		"nested only":        {"demo/vendored-1.dist-info/METADATA": meta},
		"not in a dist-info": {"demo-1.0.egg-info/METADATA": meta},
	} {
		r := zipOf(t, files)
		if _, err := WheelMetadata(r, r.Size(), 1<<20); !errors.Is(err, ErrNoWheelMetadata) {
			t.Errorf("%s: %v, want ErrNoWheelMetadata", name, err)
		}
	}
	big := zipOf(t, map[string]string{"demo-1.0.dist-info/METADATA": meta + strings.Repeat("x", 2000)})
	if _, err := WheelMetadata(big, big.Size(), 1000); !errors.Is(err, ErrUpstreamTooLarge) {
		t.Errorf("METADATA past the limit: %v", err)
	}
	if _, err := WheelMetadata(bytes.NewReader([]byte("not a zip")), 9, 1000); !errors.Is(err, ErrNoWheelMetadata) {
		t.Errorf("not a zip: %v", err)
	}
}
