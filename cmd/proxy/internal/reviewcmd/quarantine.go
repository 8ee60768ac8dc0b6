// Package reviewcmd is the commands that talk to a running server's admin
// API: `airlock quarantine` (list, show, approve, reject, reopen,
// override), `airlock downloads` and `airlock names`.
package reviewcmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"airlock/adminapi"
	"airlock/cmd/proxy/internal/cli"
	"airlock/config"
	"airlock/quarantine"
)

var QuarantineHelp = &cli.Command{Name: "quarantine", Summary: "Review held files on a running server: list, show, approve, reject, reopen.",
	Usage: "airlock quarantine list|show|approve|reject|reopen|override [flags] [TARGET]",
	Details: "TARGET is a sha256, a 12-digit review id, or NAME==VERSION (every file of that release " +
		"in a state the action applies to). The admin token comes from AIRLOCK_ADMIN_TOKEN; the " +
		"server from --server, AIRLOCK_SERVER or http://127.0.0.1:3180. " +
		"Run 'airlock quarantine SUBCOMMAND --help' for each one's flags.",
	Examples: []string{
		"export AIRLOCK_ADMIN_TOKEN=...",
		"airlock quarantine list",
		"airlock quarantine show litellm==1.82.6",
		`airlock quarantine approve --reason "checked the diff with the maintainers" requests==2.32.3`,
	}}
var quarantineSubs = map[string]*cli.Command{
	"list": {Name: "quarantine list", Summary: "List files by state (held by default), newest first.",
		Usage: "airlock quarantine list [--server URL] [--state STATE] [--project NAME] [--check CHECK] [--json]",
		Examples: []string{"airlock quarantine list", "airlock quarantine list --state all --project litellm",
			"airlock quarantine list --check cooldown --json"}},
	"show": {Name: "quarantine show", Summary: "Show a file's decision, its reasons, evidence and history.",
		Usage:    "airlock quarantine show [--server URL] [--json] TARGET",
		Examples: []string{"airlock quarantine show litellm==1.82.6", "airlock quarantine show 3f2a9c1e0b7d"}},
	"approve": {Name: "quarantine approve", Summary: "Approve held files: they are served once every remaining check has run.",
		Usage: "airlock quarantine approve [--server URL] [--waive CHECKS] [--evidence FINGERPRINT] --reason TEXT TARGET",
		Details: "An approval waives only the holds it names: without --waive, a cooldown and nothing else. A file " +
			"also held for content, a vulnerability or anything else is refused with those reasons listed, until " +
			"each is waived by name. --evidence (printed by quarantine show) refuses the approval if the decision " +
			"changed since it was shown.",
		Examples: []string{`airlock quarantine approve --reason "reviewed: build change only" requests==2.32.3`,
			`airlock quarantine approve --waive cooldown,content --evidence 3f0c2a9e1b7d4c58 --reason "the downloader is the vendor's updater" pkg==1.1`}},
	"reject": {Name: "quarantine reject", Summary: "Reject files: they are never served and leave the client's pages.",
		Usage:    "airlock quarantine reject [--server URL] --reason TEXT TARGET",
		Examples: []string{`airlock quarantine reject --reason "credential stealer in .pth" litellm==1.82.8`}},
	"override": {Name: "quarantine override", Summary: "Approve files a known-malicious advisory blocks (audited; a plain approve refuses them).",
		Usage:    "airlock quarantine override [--server URL] --reason TEXT TARGET",
		Examples: []string{`airlock quarantine override --reason "MAL-2026-1234 is a false report, confirmed with OSV" pkg==1.0`}},
	"reopen": {Name: "quarantine reopen", Summary: "Reopen a decision: the files are held for review again.",
		Usage:    "airlock quarantine reopen [--server URL] --reason TEXT TARGET",
		Examples: []string{`airlock quarantine reopen --reason "maintainer account compromised" pkg==1.2.3`}},
}

// adminClient calls the admin API.
type adminClient struct {
	ctx   context.Context // the command's: Ctrl-C ends a request in flight
	base  string
	token string
	http  *http.Client
}

// newAdminClient is the admin API client of the commands that ask a
// running server; nil (said on stderr) without AIRLOCK_ADMIN_TOKEN.
func newAdminClient(ctx context.Context, server string, getenv func(string) string, c *cli.Command, stderr io.Writer) *adminClient {
	token := getenv("AIRLOCK_ADMIN_TOKEN")
	if token == "" {
		fmt.Fprintf(stderr, "airlock %s: set AIRLOCK_ADMIN_TOKEN to the server's admin token (admin.token in its config)\n", c.Name)
		return nil
	}
	return &adminClient{ctx: ctx, base: server, token: token, http: &http.Client{Timeout: 2 * time.Minute}}
}

// errAPI is an error answer from the server (exit 1, not a usage error).
type errAPI struct {
	status int
	msg    string
}

func (e *errAPI) Error() string { return fmt.Sprintf("server answered %d: %s", e.status, e.msg) }

func (c *adminClient) do(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(c.ctx, method, strings.TrimRight(c.base, "/")+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal(data, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		return &errAPI{resp.StatusCode, e.Error}
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func Quarantine(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	sub, help, code, done := cli.Subcommand(QuarantineHelp, quarantineSubs, args, stdout, stderr)
	if done {
		return code
	}
	// Each subcommand has only the flags that apply to it.
	fs := cli.NewFlags(help, stderr)
	server := fs.String("server", cli.FirstNonEmpty(getenv("AIRLOCK_SERVER"), "http://"+config.DefaultListen), "airlock server `URL` (or AIRLOCK_SERVER)")
	var reason, state, project, check *string
	var asJSON *bool
	switch sub {
	case "list":
		state = fs.String("state", "held", "list files in this `state` (held, released, approved, rejected, blocked, allowed, all)")
		project = fs.String("project", "", "list only this project")
		check = fs.String("check", "", "list only files held by this check")
		asJSON = fs.Bool("json", false, "print JSON")
	case "show":
		asJSON = fs.Bool("json", false, "print JSON")
	default:
		reason = fs.String("reason", "", "why (required; recorded in the audit log)")
	}
	var waive, evidence *string
	if sub == "approve" {
		waive = fs.String("waive", "", "the holding `checks` this approval waives, comma-separated (default: cooldown only; quarantine show lists them)")
		evidence = fs.String("evidence", "", "the evidence `fingerprint` quarantine show printed: refused if the decision changed since")
	}
	if code, done := cli.ParseFlags(help, fs, args[1:], stdout, stderr); done {
		return code
	}
	wantArgs := 1
	if sub == "list" {
		wantArgs = 0
	}
	if fs.NArg() != wantArgs {
		cli.UsageError(stderr, help, "")
		return 2
	}
	if reason != nil && strings.TrimSpace(*reason) == "" {
		cli.UsageError(stderr, help, "--reason is required")
		return 2
	}
	c := newAdminClient(ctx, *server, getenv, help, stderr)
	if c == nil {
		return 2
	}
	var err error
	switch sub {
	case "list":
		err = listCmd(c, stdout, *state, *project, *check, *asJSON)
	case "show":
		err = showCmd(c, stdout, fs.Arg(0), *asJSON)
	default:
		var scope quarantine.Scope
		if waive != nil {
			for _, w := range strings.Split(*waive, ",") {
				if w = strings.TrimSpace(w); w != "" {
					scope.Waive = append(scope.Waive, w)
				}
			}
			scope.Evidence = strings.TrimSpace(*evidence)
		}
		err = decideCmd(c, stdout, quarantine.Transition(sub), fs.Arg(0), *reason, scope)
	}
	if err != nil {
		fmt.Fprintf(stderr, "airlock quarantine %s: %v\n", sub, err)
		return 1
	}
	return 0
}

func listCmd(c *adminClient, w io.Writer, state, project, check string, asJSON bool) error {
	q := url.Values{"state": {state}}
	if project != "" {
		q.Set("project", project)
	}
	if check != "" {
		q.Set("check", check)
	}
	var res adminapi.ListResponse
	if err := c.do(http.MethodGet, "/api/v1/quarantine?"+q.Encode(), nil, &res); err != nil {
		return err
	}
	if asJSON {
		return cli.PrintJSON(w, res)
	}
	printTable(w, res.Files)
	var states []string
	for st, n := range res.Counts {
		states = append(states, fmt.Sprintf("%s %d", st, n))
	}
	sort.Strings(states)
	fmt.Fprintf(w, "\n%d shown; all files: %s\n", len(res.Files), strings.Join(states, ", "))
	return nil
}

func printTable(w io.Writer, files []quarantine.View) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REVIEW\tSTATE\tFILE\tCHECKS\tREASON")
	for _, v := range files {
		reason := v.Decision.Summary()
		if v.Note != "" {
			reason = v.DecidedBy + ": " + v.Note
		}
		// Each cell on one line: a member name with a newline and tabs
		// must not print a row of its own ("released … approved by …").
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.ReviewID, v.State, cli.Cell(v.Filename), strings.Join(v.Decision.Checks(), ","), cli.Cell(reason))
	}
	tw.Flush()
}

func showCmd(c *adminClient, w io.Writer, target string, asJSON bool) error {
	views, err := resolveTarget(c, target, "all")
	if err != nil {
		return err
	}
	full := make([]adminapi.FileView, 0, len(views))
	for _, v := range views {
		var fv adminapi.FileView
		if err := c.do(http.MethodGet, "/api/v1/quarantine/"+v.SHA256, nil, &fv); err != nil {
			return err
		}
		full = append(full, fv)
	}
	if asJSON {
		return cli.PrintJSON(w, full)
	}
	for i, fv := range full {
		if i > 0 {
			fmt.Fprintln(w)
		}
		printView(w, fv.View)
		if len(fv.Holding) > 0 && quarantine.CanApply(quarantine.Approve, quarantine.State(fv.State)) {
			fmt.Fprintf(w, "  holds:     %s (evidence %s)\n  to approve: airlock quarantine approve --waive %s --evidence %s --reason \"...\" %s\n",
				strings.Join(fv.Holding, ", "), fv.Fingerprint, strings.Join(fv.Holding, ","), fv.Fingerprint, fv.ReviewID)
		}
		fmt.Fprintln(w, "  checks:")
		for _, cs := range fv.Checks {
			fmt.Fprintf(w, "    %-15s %-12s %s\n", cs.Check, cs.Status, cli.Cell(cs.Detail))
		}
	}
	return nil
}

// resolveTarget turns a TARGET into records: by sha256 or review id, or
// every file of name==version in one of the given states.
func resolveTarget(c *adminClient, target, states string) ([]quarantine.View, error) {
	if !strings.Contains(target, "==") {
		var v quarantine.View
		if err := c.do(http.MethodGet, "/api/v1/quarantine/"+url.PathEscape(target), nil, &v); err != nil {
			return nil, err
		}
		return []quarantine.View{v}, nil
	}
	project, version, err := adminapi.ParseTarget(target)
	if err != nil {
		return nil, err
	}
	// Evaluate first, so a release nobody has asked for yet gets records.
	if err := c.do(http.MethodPost, "/api/v1/evaluate", adminapi.EvaluateRequest{Target: target}, nil); err != nil {
		return nil, err
	}
	var res adminapi.ListResponse
	q := url.Values{"state": {"all"}, "project": {project}, "version": {version}}
	if err := c.do(http.MethodGet, "/api/v1/quarantine?"+q.Encode(), nil, &res); err != nil {
		return nil, err
	}
	var out []quarantine.View
	for _, v := range res.Files {
		if states == "all" || strings.Contains(","+states+",", ","+v.State+",") {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no files of %s in a state this applies to (%s)", target, states)
	}
	return out, nil
}

func decideCmd(c *adminClient, w io.Writer, t quarantine.Transition, target, reason string, scope quarantine.Scope) error {
	states := map[quarantine.Transition]string{
		quarantine.Approve: "held,blocked",
		quarantine.Reject:  "held,blocked,allowed,released",
		quarantine.Reopen:  "approved,rejected,released,allowed",
	}[t]
	views, err := resolveTarget(c, target, states)
	if err != nil {
		return err
	}
	actor := currentUser()
	var errs []error
	for _, v := range views {
		var out quarantine.View
		err := c.do(http.MethodPost, "/api/v1/quarantine/"+v.SHA256+"/"+string(t), adminapi.DecideRequest{Reason: reason, Actor: actor, Waive: scope.Waive, Evidence: scope.Evidence}, &out)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", v.Filename, err))
			continue
		}
		fmt.Fprintf(w, "%s %s -> %s (review %s)\n", out.Filename, v.State, out.State, out.ReviewID)
	}
	return errors.Join(errs...)
}

// currentUser names the person at the terminal for the audit log.
func currentUser() string {
	actor := os.Getenv("USER")
	if u, err := user.Current(); err == nil && actor == "" {
		actor = u.Username
	}
	return actor
}

// printView writes a file's decision for a person.
func printView(w io.Writer, v quarantine.View) {
	fmt.Fprintf(w, "%s  (%s %s)\n", cli.Cell(v.Filename), v.Project, cli.Cell(v.Version))
	fmt.Fprintf(w, "  sha256:    %s\n  review id: %s\n  state:     %s\n  decision:  %s (%s mode, policy %s, at %s)\n",
		v.SHA256, v.ReviewID, v.State, v.Decision.Action, v.Decision.Mode, v.Decision.Policy, v.Decision.EvaluatedAt.Format(time.RFC3339))
	if !v.Inputs.UploadTime.IsZero() {
		fmt.Fprintf(w, "  uploaded:  %s\n", v.Inputs.UploadTime.Format(time.RFC3339))
	}
	if !v.Decision.Until.IsZero() {
		fmt.Fprintf(w, "  releases:  %s (on its own)\n", v.Decision.Until.Format(time.RFC3339))
	}
	if v.DecidedBy != "" {
		fmt.Fprintf(w, "  decided by %s: %s\n", cli.Cell(v.DecidedBy), cli.Cell(v.Note))
	}
	cli.PrintReasons(w, v.Decision.Reasons)
}
