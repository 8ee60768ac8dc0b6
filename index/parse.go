package index

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/html"
)

// ErrMalformed wraps every parse failure of an upstream page.
var ErrMalformed = errors.New("malformed upstream page")

// Media types of the simple API.
const (
	MediaJSON     = "application/vnd.pypi.simple.v1+json"
	MediaHTML     = "application/vnd.pypi.simple.v1+html"
	MediaTextHTML = "text/html"
)

// maxFiles bounds the number of files taken from one page, so a hostile
// upstream cannot make one page cost unbounded memory after the byte cap.
const maxFiles = 200_000

var hexSHA256 = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

// jsonList is the root list in PEP 691 JSON.
type jsonList struct {
	Projects json.RawMessage `json:"projects"`
}

type jsonFile struct {
	Filename         string            `json:"filename"`
	URL              string            `json:"url"`
	Hashes           map[string]string `json:"hashes"`
	RequiresPython   *string           `json:"requires-python"`
	CoreMetadata     json.RawMessage   `json:"core-metadata"`
	DistInfoMetadata json.RawMessage   `json:"dist-info-metadata"`
	Yanked           json.RawMessage   `json:"yanked"`
	Size             *int64            `json:"size"`
	UploadTime       *string           `json:"upload-time"`
	Provenance       *string           `json:"provenance"`
}

// ParseJSON parses a PEP 691 project page fetched from base. Relative URLs
// are resolved against base.
func ParseJSON(project string, body []byte, base *url.URL) (*Page, error) {
	return ReadJSON(project, bytes.NewReader(body), base)
}

// ReadJSON parses a PEP 691 project page as it streams in, one file entry
// at a time: a 200,000-file page never exists twice in memory (as the body
// and as the decoded document). An error from r is returned wrapped.
func ReadJSON(project string, r io.Reader, base *url.URL) (*Page, error) {
	p, err := readJSON(project, json.NewDecoder(r), base)
	if err != nil {
		return nil, fmt.Errorf("%w: json: %w", ErrMalformed, err)
	}
	return p, nil
}

func readJSON(project string, dec *json.Decoder, base *url.URL) (*Page, error) {
	p := &Page{Name: project}
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	apiVersion, seen := "", map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := tok.(string)
		if seen[key] {
			return nil, fmt.Errorf("key %q given twice", key)
		}
		seen[key] = true
		switch key {
		case "meta":
			var m struct {
				APIVersion string `json:"api-version"`
			}
			err = dec.Decode(&m)
			apiVersion = m.APIVersion
		case "files":
			err = readJSONFiles(dec, p, base)
		case "versions":
			err = dec.Decode(&p.Versions)
		case "project-status":
			err = dec.Decode(&p.Status)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the page")
	}
	if !strings.HasPrefix(apiVersion, "1.") {
		return nil, fmt.Errorf("unsupported api-version %q", apiVersion)
	}
	p.ProvenanceKnown = atLeast(apiVersion, 1, 3)
	p.fillVersions()
	return p, nil
}

func readJSONFiles(dec *json.Decoder, p *Page, base *url.URL) error {
	tok, err := dec.Token()
	if err != nil || tok == nil { // "files": null lists none
		return err
	}
	if tok != json.Delim('[') {
		return errors.New("files is not a list")
	}
	for dec.More() {
		if len(p.Files) >= maxFiles {
			return fmt.Errorf("more than %d files", maxFiles)
		}
		var jf jsonFile
		if err := dec.Decode(&jf); err != nil {
			return err
		}
		f, err := jf.toFile(base)
		if err != nil {
			return fmt.Errorf("file %q: %v", jf.Filename, err)
		}
		p.Files = append(p.Files, f)
	}
	p.Files = ClipFiles(p.Files)
	return expectDelim(dec, ']')
}

// ClipFiles drops the spare capacity that appending left in a long file
// list, which a kept page would otherwise carry (up to as much again).
func ClipFiles(files []File) []File {
	if cap(files)-len(files) > len(files)/8+64 {
		return slices.Clone(files)
	}
	return files
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != want {
		return fmt.Errorf("expected %q, found %v", want, tok)
	}
	return nil
}

func (jf jsonFile) toFile(base *url.URL) (File, error) {
	if !ValidFilename(jf.Filename) {
		return File{}, errors.New("invalid filename")
	}
	u, err := resolve(base, jf.URL)
	if err != nil {
		return File{}, err
	}
	f := File{Filename: jf.Filename, URL: u, Size: -1}
	if f.Hashes, err = cleanHashes(jf.Hashes); err != nil {
		return File{}, err
	}
	if jf.RequiresPython != nil {
		f.RequiresPython = *jf.RequiresPython
	}
	meta := jf.CoreMetadata
	if len(meta) == 0 || string(meta) == "null" {
		meta = jf.DistInfoMetadata // servers older than PEP 714
	}
	if f.CoreMetadata, err = parseJSONMetadata(meta); err != nil {
		return File{}, err
	}
	if f.Yanked, f.YankedReason, err = parseJSONYanked(jf.Yanked); err != nil {
		return File{}, err
	}
	if jf.Size != nil {
		if *jf.Size < 0 {
			return File{}, errors.New("negative size")
		}
		f.Size = *jf.Size
	}
	if jf.UploadTime != nil && *jf.UploadTime != "" {
		if f.UploadTime, err = ParseUploadTime(*jf.UploadTime); err != nil {
			return File{}, err
		}
	}
	if jf.Provenance != nil && *jf.Provenance != "" {
		if f.Provenance, err = resolve(base, *jf.Provenance); err != nil {
			return File{}, err
		}
	}
	return f, nil
}

// ParseUploadTime reads an ISO 8601 upload time with or without a fraction.
func ParseUploadTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("upload-time %q: not an RFC 3339 time", s)
	}
	return t.UTC(), nil
}

func parseJSONMetadata(raw json.RawMessage) (*CoreMetadata, error) {
	if len(raw) == 0 || string(raw) == "null" || string(raw) == "false" {
		return nil, nil
	}
	if string(raw) == "true" {
		return &CoreMetadata{}, nil
	}
	var hashes map[string]string
	if err := json.Unmarshal(raw, &hashes); err != nil {
		return nil, errors.New("core-metadata is neither a boolean nor a hash object")
	}
	h, err := cleanHashes(hashes)
	if err != nil {
		return nil, err
	}
	return &CoreMetadata{Hashes: h}, nil
}

func parseJSONYanked(raw json.RawMessage) (bool, string, error) {
	if len(raw) == 0 || string(raw) == "null" || string(raw) == "false" {
		return false, "", nil
	}
	if string(raw) == "true" {
		return true, "", nil
	}
	var reason string
	if err := json.Unmarshal(raw, &reason); err != nil {
		return false, "", errors.New("yanked is neither a boolean nor a string")
	}
	return true, reason, nil
}

// cleanHashes lower-cases hash names and drops none, but rejects a sha256
// that is not 64 hex digits: such a value could never be verified.
func cleanHashes(in map[string]string) (Hashes, error) {
	out := hashesFrom(in)
	for i, d := range out {
		if d.Algo == "sha256" {
			if !hexSHA256.MatchString(d.Value) {
				return nil, fmt.Errorf("sha256 %q is not 64 hex digits", d.Value)
			}
			out[i].Value = strings.ToLower(d.Value)
		}
	}
	return out, nil
}

func resolve(base *url.URL, ref string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(ref))
	if err != nil {
		return "", fmt.Errorf("bad url: %v", err)
	}
	if base != nil {
		u = base.ResolveReference(u)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("url %q is not absolute http(s)", ref)
	}
	u.Fragment = ""
	return u.String(), nil
}

// ParseHTML parses a PEP 503 project page fetched from base. Anchors that do
// not name a plausible file are dropped; hashes come from the URL fragment.
func ParseHTML(project string, body []byte, base *url.URL) (*Page, error) {
	return ReadHTML(project, bytes.NewReader(body), base)
}

// ReadHTML parses a PEP 503 project page as it streams in.
func ReadHTML(project string, r io.Reader, base *url.URL) (*Page, error) {
	p := &Page{Name: project}
	var status ProjectStatus
	var anchor *File
	var text strings.Builder
	z := html.NewTokenizer(r)
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if err := z.Err(); err != io.EOF {
				return nil, fmt.Errorf("%w: html: %w", ErrMalformed, err)
			}
			if status.Status != "" {
				p.Status = &status
			}
			p.fillVersions()
			return p, nil
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			attrs := map[string]string{}
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				attrs[string(k)] = string(v)
			}
			switch string(name) {
			case "base":
				if href, ok := attrs["href"]; ok {
					if u, err := url.Parse(href); err == nil && base != nil {
						base = base.ResolveReference(u)
					}
				}
			case "meta":
				switch attrs["name"] {
				case "pypi:repository-version":
					p.ProvenanceKnown = atLeast(attrs["content"], 1, 3)
				case "pypi:project-status":
					status.Status = attrs["content"]
				case "pypi:project-status-reason":
					status.Reason = attrs["content"]
				}
			case "a":
				f, err := htmlFile(attrs, base)
				if err == nil {
					anchor = &f
					text.Reset()
				}
			}
		case html.TextToken:
			if anchor != nil {
				text.Write(z.Text())
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); string(name) == "a" && anchor != nil {
				if fn := strings.TrimSpace(text.String()); fn != "" {
					anchor.Filename = fn
				}
				if ValidFilename(anchor.Filename) {
					if len(p.Files) >= maxFiles {
						return nil, fmt.Errorf("%w: more than %d files", ErrMalformed, maxFiles)
					}
					p.Files = append(p.Files, *anchor)
				}
				anchor = nil
			}
		}
	}
}

func htmlFile(attrs map[string]string, base *url.URL) (File, error) {
	href, ok := attrs["href"]
	if !ok {
		return File{}, errors.New("no href")
	}
	raw, err := url.Parse(strings.TrimSpace(href))
	if err != nil {
		return File{}, err
	}
	u, err := resolve(base, href)
	if err != nil {
		return File{}, err
	}
	f := File{URL: u, Size: -1, Filename: path.Base(raw.Path)}
	if algo, val, ok := strings.Cut(raw.Fragment, "="); ok {
		if f.Hashes, err = cleanHashes(map[string]string{algo: val}); err != nil {
			return File{}, err
		}
	}
	f.RequiresPython = attrs["data-requires-python"] // already unescaped by the tokenizer
	// PEP 592: the attribute's presence means yanked, even when bare. (pip's
	// parser reads a bare one as not yanked; the spec and the safer reading win.)
	if reason, ok := attrs["data-yanked"]; ok {
		f.Yanked, f.YankedReason = true, reason
	}
	meta, ok := attrs["data-core-metadata"]
	if !ok {
		meta, ok = attrs["data-dist-info-metadata"]
	}
	if ok && meta != "false" {
		f.CoreMetadata = &CoreMetadata{}
		if algo, val, found := strings.Cut(meta, "="); found {
			if f.CoreMetadata.Hashes, err = cleanHashes(map[string]string{algo: val}); err != nil {
				return File{}, err
			}
		}
	}
	if prov := attrs["data-provenance"]; prov != "" {
		if f.Provenance, err = resolve(base, prov); err != nil {
			return File{}, err
		}
	}
	return f, nil
}

// ParseProjectList parses the root /simple/ page in either format and returns
// the project names as the upstream wrote them.
func ParseProjectList(contentType string, body []byte) ([]string, error) {
	if contentType == MediaJSON {
		var jp jsonList
		if err := json.Unmarshal(body, &jp); err != nil {
			return nil, fmt.Errorf("%w: json: %v", ErrMalformed, err)
		}
		var projects []struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(jp.Projects, &projects); err != nil {
			return nil, fmt.Errorf("%w: projects: %v", ErrMalformed, err)
		}
		names := make([]string, 0, len(projects))
		for _, p := range projects {
			if _, err := Normalize(p.Name); err == nil {
				names = append(names, p.Name)
			}
		}
		return names, nil
	}
	var names []string
	inAnchor := false
	z := html.NewTokenizer(bytes.NewReader(body))
	for {
		switch z.Next() {
		case html.ErrorToken:
			if err := z.Err(); err != io.EOF {
				return nil, fmt.Errorf("%w: html: %v", ErrMalformed, err)
			}
			return names, nil
		case html.StartTagToken:
			name, _ := z.TagName()
			inAnchor = string(name) == "a"
		case html.EndTagToken:
			inAnchor = false
		case html.TextToken:
			if inAnchor {
				if n := strings.TrimSpace(string(z.Text())); n != "" {
					if _, err := Normalize(n); err == nil {
						names = append(names, n)
					}
				}
			}
		}
	}
}

// atLeast reports whether an API version "major.minor" is at least the given one.
func atLeast(version string, major, minor int) bool {
	maj, min, _ := strings.Cut(version, ".")
	a, errA := strconv.Atoi(maj)
	b, errB := strconv.Atoi(min)
	if errA != nil || errB != nil {
		return false
	}
	return a > major || (a == major && b >= minor)
}
