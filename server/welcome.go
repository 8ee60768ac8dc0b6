package server

import (
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"airlock/config"
)

// Welcome tells a person who started serve in a terminal, in plain words,
// where Airlock listens and the lines that point pip and uv at it. The JSON
// log follows for machines.
func Welcome(w io.Writer, addr string, cfg config.Config) {
	index := IndexURL(addr, cfg) + "/simple/"
	ui := IndexURL(addr, cfg) + "/ui/"
	if cfg.Admin.Listen != "" {
		ui = "http://" + cfg.Admin.Listen + "/ui/"
	}
	review := "review held files at " + ui
	if cfg.Admin.Token == "" {
		review = "set AIRLOCK_ADMIN_TOKEN (32+ characters) to review held files at " + ui
	}
	fmt.Fprintf(w, `
Airlock is serving %s through %s
(data in %s)

Point pip at it, in ~/.config/pip/pip.conf:
    [global]
    index-url = %s

Point uv at it, in ~/.config/uv/uv.toml:
    [[index]]
    url = "%s"
    default = true

or in a project's pyproject.toml:
    [[tool.uv.index]]
    url = "%s"
    default = true

Or for one command:  PIP_INDEX_URL=%s pip install requests

Then %s, or run: airlock quarantine list
Stop with Ctrl-C. Log lines (JSON) follow.

`, cfg.Upstream.URL, index, cfg.DataDir, index, index, index, index, review)
}

// IndexURL is how clients reach the server: server.public_url when set,
// else the listen address, with this machine's name for an address that
// listens everywhere.
func IndexURL(addr string, cfg config.Config) string {
	if cfg.Server.PublicURL != "" {
		return strings.TrimRight(cfg.Server.PublicURL, "/")
	}
	scheme := "http"
	if cfg.TLS.CertFile != "" {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return scheme + "://" + addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if name, err := os.Hostname(); err == nil {
			host = name
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}
