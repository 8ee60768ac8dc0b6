package reviewcmd

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"airlock/adminapi"
	"airlock/cmd/proxy/internal/cli"
	"airlock/config"
)

var (
	NamesHelp = &cli.Command{Name: "names", Summary: "List or release the names private indexes own by their lists (on a running server).",
		Usage: "airlock names list|release [flags]",
		Details: "A name a private index's /simple/ list showed stays owned by that index until it is " +
			"released here, even when a later list lacks it: the public upstream never answers for it " +
			"meanwhile. The admin token comes from AIRLOCK_ADMIN_TOKEN; the server from --server, " +
			"AIRLOCK_SERVER or http://127.0.0.1:3180.",
		Examples: []string{
			"airlock names list",
			`airlock names release --index internal --reason "moved to PyPI under our org" acme-tools`,
		}}
	namesSubs = map[string]*cli.Command{
		"list": {Name: "names list", Summary: "List the names each private index owns by its list.",
			Usage: "airlock names list [--server URL] [--json]", Examples: []string{"airlock names list", "airlock names list --json"}},
		"release": {Name: "names release", Summary: "Release a name a private index owned: the public upstream answers for it (audited).",
			Usage:    "airlock names release [--server URL] --index NAME --reason TEXT PROJECT",
			Examples: []string{`airlock names release --index internal --reason "internal package retired" acme-tools`}},
	}
)

func Names(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	sub, help, code, done := cli.Subcommand(NamesHelp, namesSubs, args, stdout, stderr)
	if done {
		return code
	}
	fs := cli.NewFlags(help, stderr)
	server := fs.String("server", cli.FirstNonEmpty(getenv("AIRLOCK_SERVER"), "http://"+config.DefaultListen), "airlock server `URL` (or AIRLOCK_SERVER)")
	var asJSON *bool
	var ix, reason *string
	wantArgs := 0
	if sub == "list" {
		asJSON = fs.Bool("json", false, "print JSON")
	} else {
		ix = fs.String("index", "", "the private index that owns the name (required)")
		reason = fs.String("reason", "", "why (required; recorded in the audit log)")
		wantArgs = 1
	}
	if code, done := cli.ParseFlags(help, fs, args[1:], stdout, stderr); done {
		return code
	}
	if fs.NArg() != wantArgs {
		cli.UsageError(stderr, help, "")
		return 2
	}
	if sub == "release" && (strings.TrimSpace(*ix) == "" || strings.TrimSpace(*reason) == "") {
		cli.UsageError(stderr, help, "--index and --reason are required")
		return 2
	}
	c := newAdminClient(ctx, *server, getenv, help, stderr)
	if c == nil {
		return 2
	}
	if sub == "list" {
		var res adminapi.NamesResponse
		if err := c.do(http.MethodGet, "/api/v1/names", nil, &res); err != nil {
			fmt.Fprintf(stderr, "airlock names list: %v\n", err)
			return 1
		}
		if *asJSON {
			if cli.PrintJSON(stdout, res) != nil {
				return 1
			}
			return 0
		}
		for name, names := range res.Indexes {
			fmt.Fprintf(stdout, "%s: %d names\n", name, len(names))
			for _, n := range names {
				fmt.Fprintf(stdout, "  %s\n", n)
			}
		}
		return 0
	}
	user := currentUser()
	err := c.do(http.MethodPost, "/api/v1/names/"+url.PathEscape(*ix)+"/release",
		adminapi.ReleaseRequest{Name: fs.Arg(0), Reason: *reason, Actor: user}, nil)
	if err != nil {
		fmt.Fprintf(stderr, "airlock names release: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "released %s from %s: the public upstream answers for it now\n", fs.Arg(0), *ix)
	return 0
}
