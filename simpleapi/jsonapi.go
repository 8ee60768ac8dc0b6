package simpleapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/gorilla/mux"

	"airlock/gate"
	"airlock/index"
	"airlock/textsafe"
)

const (
	routeJSONProject = "/pypi/{project}/json"
	routeJSONRelease = "/pypi/{project}/{version}/json"
)

// jsonAPI serves PyPI's JSON API for a project or one release, from the
// upstream that owns the project, as the index serves it: every file URL
// points at Airlock, a held file is marked yanked with the reason, and a
// file Airlock does not offer (blocked, rejected, not on the simple page)
// is left out. Tools that read the JSON API (poetry, pip-audit,
// dependency bots) then see what pip and uv see. A private index without a
// JSON API gets one made from its simple page.
func (s *Server) jsonAPI(w http.ResponseWriter, r *http.Request) {
	vars := mux.Vars(r)
	name, err := index.Normalize(vars["project"])
	if err != nil {
		s.fail(w, r, errBadName)
		return
	}
	version := vars["version"]
	if version != "" && (len(version) > 128 || strings.ContainsAny(version, "/\\?#%")) {
		s.fail(w, r, errBadName)
		return
	}
	ctx := r.Context()
	entry, err := s.opt.Gate.Page(ctx, name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page := &entry.Cached.Page
	listed, _ := s.opt.Gate.Listing(ctx, page, false)
	offered := make(map[string]index.File, len(page.Files))
	for f := range listed.Files() {
		offered[f.Filename] = f
	}
	doc, err := s.opt.Gate.ProjectJSON(ctx, page, version)
	if errors.Is(err, gate.ErrNotFound) && page.Source != "" {
		doc, err = synthesizeJSON(page, version) // HTML-only private index
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	base := s.baseURL(r)
	out, err := rewriteJSON(doc, offered, base+"/files/"+name+"/")
	if err == nil && version == "" {
		out, err = latestServed(out, name, offered)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=60")
	w.Write(out)
}

// jsonDoc is the part of a JSON API document Airlock writes itself.
type jsonDoc struct {
	Info     json.RawMessage             `json:"info"`
	Releases map[string][]map[string]any `json:"releases,omitempty"`
	URLs     []map[string]any            `json:"urls"`
}

// rewriteJSON points the document's files at Airlock and marks or drops
// them as the index does; every other key passes through as it was.
func rewriteJSON(raw []byte, offered map[string]index.File, filesBase string) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, errors.Join(index.ErrMalformed, err)
	}
	rewrite := func(files []map[string]any) []map[string]any {
		out := make([]map[string]any, 0, len(files))
		for _, f := range files {
			name, _ := f["filename"].(string)
			of, ok := offered[name]
			if !ok {
				continue // not offered: blocked, rejected or not listed
			}
			if d, _ := f["digests"].(map[string]any); d != nil {
				if sha, _ := d["sha256"].(string); !strings.EqualFold(sha, of.SHA256()) {
					continue // the JSON API disagrees with the page: not offered
				}
			}
			f["url"] = filesBase + url.PathEscape(name)
			if r, ok := f["yanked_reason"].(string); ok {
				f["yanked_reason"] = textsafe.Line(r) // the upstream's, shown by clients as it is
			}
			if of.Yanked {
				f["yanked"], f["yanked_reason"] = true, of.YankedReason
			}
			out = append(out, f)
		}
		return out
	}
	if raw, ok := doc["releases"]; ok {
		var releases map[string][]map[string]any
		if err := json.Unmarshal(raw, &releases); err != nil {
			return nil, errors.Join(index.ErrMalformed, err)
		}
		for v, files := range releases {
			releases[v] = rewrite(files)
		}
		doc["releases"], _ = json.Marshal(releases)
	}
	var urls []map[string]any
	if raw, ok := doc["urls"]; ok {
		if err := json.Unmarshal(raw, &urls); err != nil {
			return nil, errors.Join(index.ErrMalformed, err)
		}
	}
	doc["urls"], _ = json.Marshal(rewrite(urls))
	return json.Marshal(doc)
}

// synthesizeJSON makes a JSON API document from a simple page, for an
// index that has no JSON API.
func synthesizeJSON(p *index.Page, version string) ([]byte, error) {
	releases := map[string][]map[string]any{}
	for _, f := range p.Files {
		v, ok := index.VersionFromFilename(p.Name, f.Filename)
		if !ok {
			continue
		}
		entry := map[string]any{"filename": f.Filename, "url": f.URL, "digests": map[string]string{"sha256": f.SHA256()},
			"requires_python": nilIfEmpty(f.RequiresPython), "yanked": f.Yanked, "yanked_reason": nilIfEmpty(f.YankedReason),
			"packagetype": packageType(f.Filename)}
		if f.Size >= 0 {
			entry["size"] = f.Size
		}
		if !f.UploadTime.IsZero() {
			entry["upload_time_iso_8601"] = f.UploadTime.UTC().Format("2006-01-02T15:04:05.000000Z")
		}
		releases[v] = append(releases[v], entry)
	}
	versions := make([]string, 0, len(releases))
	for v := range releases {
		versions = append(versions, v)
	}
	sort.Strings(versions)
	latest := ""
	if len(p.Versions) > 0 {
		latest = p.Versions[len(p.Versions)-1]
	} else if len(versions) > 0 {
		latest = versions[len(versions)-1]
	}
	if version != "" {
		if _, ok := releases[version]; !ok {
			return nil, gate.ErrNotFound
		}
		latest = version
	}
	info, _ := json.Marshal(map[string]any{"name": p.Name, "version": latest})
	doc := jsonDoc{Info: info, URLs: releases[latest]}
	if doc.URLs == nil {
		doc.URLs = []map[string]any{}
	}
	if version == "" {
		doc.Releases = releases
	}
	return json.Marshal(doc)
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func packageType(filename string) string {
	if strings.HasSuffix(filename, ".whl") {
		return "bdist_wheel"
	}
	return "sdist"
}

// latestServed makes a project document say the newest release Airlock
// serves, as info.version and in urls: PyPI's says its newest upload,
// which may be held, and a bot reading it would propose what Airlock
// refuses. A final release wins over a newer pre-release, as on PyPI.
func latestServed(raw []byte, project string, offered map[string]index.File) ([]byte, error) {
	bestVersion := index.NewestRelease(project, offered)
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, errors.Join(index.ErrMalformed, err)
	}
	var info map[string]any
	if err := json.Unmarshal(doc["info"], &info); err != nil || info == nil {
		return raw, nil // nothing to correct
	}
	var releases map[string][]map[string]any
	json.Unmarshal(doc["releases"], &releases)
	if cur, _ := info["version"].(string); cur == bestVersion {
		return raw, nil
	}
	info["version"] = nilIfEmpty(bestVersion)
	urls := []map[string]any{}
	for v, files := range releases {
		if bestVersion != "" && index.SameVersion(v, bestVersion) {
			urls = files
		}
	}
	doc["info"], _ = json.Marshal(info)
	doc["urls"], _ = json.Marshal(urls)
	return json.Marshal(doc)
}
