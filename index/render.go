package index

import (
	"bytes"
	"encoding/json"
	"html/template"
	"io"
	"sort"
	"time"
)

// Rewrite maps a file to the URLs a client should use: Airlock's own file
// endpoint and, when the file has provenance, Airlock's integrity endpoint.
type Rewrite func(f File) (fileURL, provenanceURL string)

// uploadTimeFormat always writes microseconds, as PyPI does.
const uploadTimeFormat = "2006-01-02T15:04:05.000000Z"

type outMeta struct {
	APIVersion string `json:"api-version"`
}

type outJSONFile struct {
	Filename       string  `json:"filename"`
	URL            string  `json:"url"`
	Hashes         Hashes  `json:"hashes"`
	RequiresPython *string `json:"requires-python,omitempty"`
	// Never "dist-info-metadata": pip crashed on it (PEP 714).
	CoreMetadata any     `json:"core-metadata,omitempty"`
	Yanked       any     `json:"yanked,omitempty"`
	Size         *int64  `json:"size,omitempty"`
	UploadTime   *string `json:"upload-time,omitempty"`
	Provenance   *string `json:"provenance,omitempty"`
}

// estimatedFileBytes sizes a rendered page's buffer up front, so that a
// 200,000-file page is not copied through doubling buffers.
const estimatedFileBytes = 320

// RenderJSON renders the view in PEP 691 JSON.
func RenderJSON(v *View, rw Rewrite) ([]byte, error) { return Render(v, rw, WriteJSON) }

// A Writer writes a view in one format: WriteJSON or WriteHTML.
type Writer func(w io.Writer, v *View, rw Rewrite) error

// Render writes a view into a buffer sized up front.
func Render(v *View, rw Rewrite, write Writer) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(512 + estimatedFileBytes*len(v.Page.Files))
	if err := write(&buf, v, rw); err != nil {
		return nil, err
	}
	return trimmed(buf.Bytes()), nil
}

// WriteJSON writes the view in PEP 691 JSON to w, one file entry at a
// time, with no intermediate document.
func WriteJSON(w io.Writer, v *View, rw Rewrite) error {
	p := v.Page
	ew := &errWriter{w: w}
	enc := newCompactEncoder()
	ew.WriteString(`{"meta":{"api-version":"` + v.APIVersion() + `"},"name":`)
	enc.write(ew, p.Name)
	ew.WriteString(`,"files":[`)
	first := true
	for f := range v.Files() {
		if !first {
			ew.WriteString(",")
		}
		first = false
		enc.write(ew, jsonFileOut(f, rw))
		if ew.err != nil {
			return ew.err
		}
	}
	ew.WriteString(`],"versions":`)
	versions := v.Versions
	if versions == nil {
		versions = []string{}
	}
	enc.write(ew, versions)
	if p.Status != nil {
		ew.WriteString(`,"project-status":`)
		enc.write(ew, p.Status)
	}
	ew.WriteString("}\n")
	return ew.err
}

// trimmed drops a buffer's unused capacity when it is large: a rendered
// page is kept for as long as its entry lives.
func trimmed(b []byte) []byte {
	if cap(b)-len(b) > len(b)/4+4096 {
		return bytes.Clone(b)
	}
	return b
}

// errWriter keeps the first write error, so a renderer checks once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(b []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(b)
	e.err = err
	return n, err
}

func (e *errWriter) WriteString(s string) { io.WriteString(e, s) }

// compactEncoder encodes values without json.Encoder's trailing newline
// or HTML escaping, through one reused scratch buffer.
type compactEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

func newCompactEncoder() *compactEncoder {
	c := &compactEncoder{}
	c.enc = json.NewEncoder(&c.buf)
	c.enc.SetEscapeHTML(false)
	return c
}

func (c *compactEncoder) write(w *errWriter, v any) {
	if w.err != nil {
		return
	}
	c.buf.Reset()
	if err := c.enc.Encode(v); err != nil {
		w.err = err
		return
	}
	w.Write(c.buf.Bytes()[:c.buf.Len()-1])
}

func jsonFileOut(f File, rw Rewrite) outJSONFile {
	fileURL, provURL := rw(f)
	of := outJSONFile{Filename: f.Filename, URL: fileURL, Hashes: f.Hashes}
	if f.RequiresPython != "" {
		rp := f.RequiresPython
		of.RequiresPython = &rp
	}
	if h := f.MetadataSHA256(); h != "" {
		of.CoreMetadata = map[string]string{"sha256": h}
	} else if f.CoreMetadata != nil {
		of.CoreMetadata = true // offered, its hash not known before it is made
	}
	if f.Yanked {
		of.Yanked = true
		if f.YankedReason != "" {
			of.Yanked = f.YankedReason
		}
	}
	if f.Size >= 0 {
		size := f.Size
		of.Size = &size
	}
	if !f.UploadTime.IsZero() {
		ut := f.UploadTime.UTC().Format(uploadTimeFormat)
		of.UploadTime = &ut
	}
	if provURL != "" {
		of.Provenance = &provURL
	}
	return of
}

var pageHeadTemplate = template.Must(template.New("head").Parse(`<!DOCTYPE html>
<html>
  <head>
    <meta name="pypi:repository-version" content="{{.APIVersion}}">
{{- with .Status}}
    <meta name="pypi:project-status" content="{{.Status}}">
{{- with .Reason}}
    <meta name="pypi:project-status-reason" content="{{.}}">
{{- end}}
{{- end}}
    <title>Links for {{.Name}}</title>
  </head>
  <body>
    <h1>Links for {{.Name}}</h1>`))

var pageFileTemplate = template.Must(template.New("file").Parse(`
    <a href="{{.Href}}"
{{- with .RequiresPython}} data-requires-python="{{.}}"{{end}}
{{- with .Metadata}} data-dist-info-metadata="sha256={{.}}" data-core-metadata="sha256={{.}}"{{else}}{{if .MetadataOffered}} data-dist-info-metadata="true" data-core-metadata="true"{{end}}{{end}}
{{- if .Yanked}} data-yanked="{{.YankedReason}}"{{end}}
{{- with .Provenance}} data-provenance="{{.}}"{{end}}>{{.Filename}}</a><br />`))

const pageTail = `
  </body>
</html>
`

type htmlFileView struct {
	Href           string
	Filename       string
	RequiresPython string
	Metadata       string
	// MetadataOffered: metadata without a hash (PEP 714's "true").
	MetadataOffered bool
	Yanked          bool
	YankedReason    string
	Provenance      string
}

// RenderHTML renders the view in PEP 503 HTML.
func RenderHTML(v *View, rw Rewrite) ([]byte, error) { return Render(v, rw, WriteHTML) }

// WriteHTML writes the view in PEP 503 HTML to w, one anchor at a time. A
// yanked file always carries data-yanked="reason" or data-yanked="": pip
// reads a bare attribute as not yanked.
func WriteHTML(w io.Writer, v *View, rw Rewrite) error {
	p := v.Page
	head := struct {
		APIVersion string
		Name       string
		Status     *ProjectStatus
	}{APIVersion: v.APIVersion(), Name: p.Name, Status: p.Status}
	if err := pageHeadTemplate.Execute(w, head); err != nil {
		return err
	}
	for f := range v.Files() {
		fileURL, provURL := rw(f)
		href := fileURL
		if h := f.SHA256(); h != "" {
			href += "#sha256=" + h
		}
		view := htmlFileView{
			Href: href, Filename: f.Filename, RequiresPython: f.RequiresPython,
			Metadata: f.MetadataSHA256(), MetadataOffered: f.CoreMetadata != nil, Yanked: f.Yanked, YankedReason: f.YankedReason,
			Provenance: provURL,
		}
		if err := pageFileTemplate.Execute(w, view); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, pageTail)
	return err
}

// ProjectList is the root index: normalized names in order.
type ProjectList struct {
	Names     []string  `json:"names"`
	FetchedAt time.Time `json:"fetched_at"`
}

// RenderProjectListJSON writes the root index in PEP 691 JSON.
func RenderProjectListJSON(names []string) ([]byte, error) {
	type project struct {
		Name string `json:"name"`
	}
	out := struct {
		Meta     outMeta   `json:"meta"`
		Projects []project `json:"projects"`
	}{Meta: outMeta{APIVersion: "1.0"}, Projects: make([]project, 0, len(names))}
	for _, n := range names {
		out.Projects = append(out.Projects, project{Name: n})
	}
	return marshal(out)
}

var listTemplate = template.Must(template.New("list").Parse(`<!DOCTYPE html>
<html>
  <head>
    <meta name="pypi:repository-version" content="1.0">
    <title>Simple index</title>
  </head>
  <body>
{{- range .}}
    <a href="/simple/{{.}}/">{{.}}</a>
{{- end}}
  </body>
</html>
`))

// RenderProjectListHTML writes the root index in PEP 503 HTML. Names must be
// normalized (they become path segments).
func RenderProjectListHTML(names []string) ([]byte, error) {
	var buf bytes.Buffer
	if err := listTemplate.Execute(&buf, names); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// NormalizeList normalizes, de-duplicates and sorts names, dropping invalid ones.
func NormalizeList(names []string) []string {
	seen := make(map[string]bool, len(names))
	out := make([]string, 0, len(names))
	for _, n := range names {
		if nn, err := Normalize(n); err == nil && !seen[nn] {
			seen[nn] = true
			out = append(out, nn)
		}
	}
	sort.Strings(out)
	return out
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
