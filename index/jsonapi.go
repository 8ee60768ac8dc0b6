package index

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// UploadInfo is what PyPI's JSON API says of one file: its sha256 and when
// it was uploaded.
type UploadInfo struct {
	SHA256     string
	UploadTime time.Time
}

// ParseUploadTimes reads the upload times of every file from a PyPI JSON
// API document (/pypi/<project>/json), keyed by filename. HTML-only simple
// pages carry no upload time; the JSON API on the same upstream does.
func ParseUploadTimes(body []byte) (map[string]UploadInfo, error) {
	var doc struct {
		Releases map[string][]struct {
			Filename string            `json:"filename"`
			Digests  map[string]string `json:"digests"`
			Upload   string            `json:"upload_time_iso_8601"`
		} `json:"releases"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("%w: JSON API: %v", ErrMalformed, err)
	}
	out := map[string]UploadInfo{}
	for _, files := range doc.Releases {
		for _, f := range files {
			t, err := time.Parse(time.RFC3339Nano, f.Upload)
			if err != nil || t.IsZero() || f.Filename == "" {
				continue // a file without a readable time stays without one
			}
			out[f.Filename] = UploadInfo{SHA256: strings.ToLower(f.Digests["sha256"]), UploadTime: t.UTC()}
		}
	}
	return out, nil
}

// AddUploadTimes fills in the upload time of each file that has none from
// the JSON API's answer, when the file's sha256 matches there too. It
// reports how many files it filled.
func (p *Page) AddUploadTimes(times map[string]UploadInfo) int {
	n := 0
	for i := range p.Files {
		f := &p.Files[i]
		info, ok := times[f.Filename]
		if !f.UploadTime.IsZero() || !ok || info.SHA256 == "" || info.SHA256 != f.SHA256() {
			continue
		}
		f.UploadTime = info.UploadTime
		n++
	}
	return n
}

// MissingUploadTimes reports whether any file lacks an upload time.
func (p *Page) MissingUploadTimes() bool {
	for _, f := range p.Files {
		if f.UploadTime.IsZero() {
			return true
		}
	}
	return false
}
