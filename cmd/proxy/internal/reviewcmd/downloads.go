package reviewcmd

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"airlock/adminapi"
	"airlock/cmd/proxy/internal/cli"
	"airlock/config"
)

var DownloadsHelp = &cli.Command{Name: "downloads", Summary: "List who downloaded a file, a release or what an advisory names (from a running server).",
	Usage: "airlock downloads [--server URL] [--json] [--since TIME] TARGET",
	Details: "TARGET is a sha256, NAME==VERSION, or an advisory ID (MAL-…, GHSA-…). TIME is RFC 3339 " +
		"(2026-03-24T00:00:00Z) or a duration back from now (72h, 7d). The admin token comes from " +
		"AIRLOCK_ADMIN_TOKEN; the server from --server, AIRLOCK_SERVER or http://127.0.0.1:3180.",
	Examples: []string{
		"airlock downloads litellm==1.82.8",
		"airlock downloads --since 7d MAL-2026-1234",
		"airlock downloads --json 3f2a9c1e0b7d…(a full sha256)",
	}}

// Downloads answers "which of our machines installed it?".
func Downloads(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := cli.NewFlags(DownloadsHelp, stderr)
	server := fs.String("server", cli.FirstNonEmpty(getenv("AIRLOCK_SERVER"), "http://"+config.DefaultListen), "airlock server `URL` (or AIRLOCK_SERVER)")
	asJSON := fs.Bool("json", false, "print JSON")
	since := fs.String("since", "", "only downloads from `TIME` on (RFC 3339, or a duration back from now: 72h, 7d)")
	if code, done := cli.ParseArgs(DownloadsHelp, fs, args, 1, stdout, stderr); done {
		return code
	}
	q := url.Values{"target": {fs.Arg(0)}}
	if *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			cli.UsageError(stderr, DownloadsHelp, err.Error())
			return 2
		}
		q.Set("since", t.UTC().Format(time.RFC3339))
	}
	c := newAdminClient(ctx, *server, getenv, DownloadsHelp, stderr)
	if c == nil {
		return 2
	}
	var resp adminapi.DownloadsResponse
	if err := c.do(http.MethodGet, "/api/v1/downloads?"+q.Encode(), nil, &resp); err != nil {
		fmt.Fprintf(stderr, "airlock downloads: %v\n", err)
		return 1
	}
	if *asJSON {
		if err := cli.PrintJSON(stdout, resp); err != nil {
			return 1
		}
		return 0
	}
	fmt.Fprintf(stdout, "%s: %d downloads by %d addresses\n", resp.Target, len(resp.Downloads), resp.Clients)
	if len(resp.Downloads) == 0 {
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tCLIENT\tIDENTITY\tFILE\tUSER AGENT")
	for _, d := range resp.Downloads {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Time.UTC().Format(time.RFC3339), cli.Cell(d.Client), cli.Cell(cli.FirstNonEmpty(d.Identity, "-")), cli.Cell(d.Filename), cli.Cell(shortAgent(d.UserAgent)))
	}
	tw.Flush()
	return 0
}

// parseSince reads an RFC 3339 time or a duration back from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	var d config.Duration
	if err := d.UnmarshalText([]byte(s)); err == nil && d > 0 {
		return now.Add(-time.Duration(d)), nil
	}
	return time.Time{}, fmt.Errorf("--since %q is neither an RFC 3339 time nor a duration (72h, 7d)", s)
}

// shortAgent keeps pip's and uv's product and version, and says whether
// pip's JSON part names a CI system.
func shortAgent(ua string) string {
	head, rest, _ := strings.Cut(ua, " ")
	if strings.Contains(rest, `"ci":true`) {
		return head + " (CI)"
	}
	return head
}
