package simpleapi

import (
	"html/template"
	"net/http"
	"strings"

	"airlock/forwarded"
)

const routeLanding = "/"

// landingPage tells a person who opens Airlock in a browser what it is and
// how to point pip, uv, poetry and pdm at it. Everything shown is escaped
// by html/template (the host may come from the request).
var landingPage = template.Must(template.New("landing").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Airlock: a verifying Python package index</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; color: #1b1f24; }
pre { background: #f3f4f6; padding: .75rem 1rem; overflow-x: auto; border-radius: 6px; }
code { font-family: ui-monospace, monospace; }
h1 { margin-bottom: .25rem; }
.lead { color: #444; margin-top: 0; }
</style>
</head>
<body>
<h1>Airlock</h1>
<p class="lead">A Python package index that serves only what it verified.</p>
<p>Airlock stands between your installers and <code>{{.Upstream}}</code>. Every file it serves
matched the sha256 its upstream published and passed its checks: a cooldown for new releases,
PEP 740 attestations, the project's behaviour and the file's content. Anything else is held
for review, and the installer is told why.</p>

<h2>The index</h2>
<pre><code>{{.Index}}</code></pre>

<h2>Use it</h2>
<p>pip, in <code>pip.conf</code> (<code>~/.config/pip/pip.conf</code>, or <code>/etc/pip.conf</code> for everyone):</p>
<pre><code data-file="pip.conf">[global]
index-url = {{.Index}}</code></pre>
<p>uv, in <code>uv.toml</code> (<code>~/.config/uv/uv.toml</code>):</p>
<pre><code data-file="uv.toml">[[index]]
url = "{{.Index}}"
default = true</code></pre>
<p>uv, in a project's <code>pyproject.toml</code> (the table is <code>tool.uv.index</code> there):</p>
<pre><code data-file="pyproject.toml">[[tool.uv.index]]
url = "{{.Index}}"
default = true</code></pre>
<p>For one command, or in CI:</p>
<pre><code data-file="shell">PIP_INDEX_URL={{.Index}} pip install requests
UV_DEFAULT_INDEX={{.Index}} uv pip install requests</code></pre>
<p>Use Airlock as the only index: <code>--extra-index-url</code> lets whichever index offers the higher version win.</p>

<h2>Held files</h2>
{{if .ReviewOnAdmin}}<p>The review page answers on Airlock's admin address.</p>
{{else}}<p>Held files are reviewed on the <a href="/ui/">review page</a> (it needs the admin token),
or with <code>airlock quarantine list</code>.</p>
{{end}}
<p><a href="/simple/">Project list</a> · <a href="/readyz">Readiness</a> · <a href="/metrics">Metrics</a></p>
</body>
</html>
`))

// landing serves the page at /.
func (s *Server) landing(w http.ResponseWriter, r *http.Request) {
	base := s.baseURL(r)
	upstream := s.opt.UpstreamURL
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	landingPage.Execute(w, struct {
		Index, Upstream string
		ReviewOnAdmin   bool
	}{Index: base + "/simple/", Upstream: upstream, ReviewOnAdmin: s.opt.ReviewOnAdmin})
}

// baseURL is where clients reach Airlock: server.public_url, or the
// scheme and host of the request (https behind a trusted proxy that
// terminated TLS).
func (s *Server) baseURL(r *http.Request) string {
	if base := strings.TrimRight(s.opt.PublicURL, "/"); base != "" {
		return base
	}
	scheme := "http"
	if forwarded.HTTPS(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
