package main

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
	"airlock/config"
	"airlock/quarantine"
	"airlock/textsafe"
)

// adminClient calls the admin API.
type adminClient struct {
	ctx   context.Context // the command's: Ctrl-C ends a request in flight
	base  string
	token string
	http  *http.Client
}

// newAdminClient is the admin API client of the commands that ask a
// running server; nil (said on stderr) without AIRLOCK_ADMIN_TOKEN.
func newAdminClient(ctx context.Context, server string, getenv func(string) string, c *command, stderr io.Writer) *adminClient {
	token := getenv("AIRLOCK_ADMIN_TOKEN")
	if token == "" {
		fmt.Fprintf(stderr, "airlock %s: set AIRLOCK_ADMIN_TOKEN to the server's admin token (admin.token in its config)\n", c.name)
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

func quarantineCmd(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		usageError(stderr, quarantineHelp, "which subcommand?")
		return 2
	}
	sub := args[0]
	if sub == "-h" || sub == "--help" || sub == "help" {
		printHelp(stdout, quarantineHelp, nil)
		return 0
	}
	help, ok := quarantineSubs[sub]
	if !ok {
		usageError(stderr, quarantineHelp, fmt.Sprintf("unknown subcommand %q", sub))
		return 2
	}
	// Each subcommand has only the flags that apply to it.
	fs := newFlags(help, stderr)
	server := fs.String("server", firstNonEmpty(getenv("AIRLOCK_SERVER"), "http://"+config.DefaultListen), "airlock server `URL` (or AIRLOCK_SERVER)")
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
	if code, done := parseFlags(help, fs, args[1:], stdout, stderr); done {
		return code
	}
	wantArgs := 1
	if sub == "list" {
		wantArgs = 0
	}
	if fs.NArg() != wantArgs {
		usageError(stderr, help, "")
		return 2
	}
	if reason != nil && strings.TrimSpace(*reason) == "" {
		usageError(stderr, help, "--reason is required")
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

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
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
		return printJSON(w, res)
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.ReviewID, v.State, cell(v.Filename), strings.Join(v.Decision.Checks(), ","), cell(reason))
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
		return printJSON(w, full)
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
			fmt.Fprintf(w, "    %-15s %-12s %s\n", cs.Check, cs.Status, cell(cs.Detail))
		}
	}
	return nil
}

// cell is text from outside (names, reasons, notes, user agents) for one
// line of a table or a listing.
func cell(s string) string { return textsafe.Line(s) }

func printView(w io.Writer, v quarantine.View) {
	fmt.Fprintf(w, "%s  (%s %s)\n", cell(v.Filename), v.Project, cell(v.Version))
	fmt.Fprintf(w, "  sha256:    %s\n  review id: %s\n  state:     %s\n  decision:  %s (%s mode, policy %s, at %s)\n",
		v.SHA256, v.ReviewID, v.State, v.Decision.Action, v.Decision.Mode, v.Decision.Policy, v.Decision.EvaluatedAt.Format(time.RFC3339))
	if !v.Inputs.UploadTime.IsZero() {
		fmt.Fprintf(w, "  uploaded:  %s\n", v.Inputs.UploadTime.Format(time.RFC3339))
	}
	if !v.Decision.Until.IsZero() {
		fmt.Fprintf(w, "  releases:  %s (on its own)\n", v.Decision.Until.Format(time.RFC3339))
	}
	if v.DecidedBy != "" {
		fmt.Fprintf(w, "  decided by %s: %s\n", cell(v.DecidedBy), cell(v.Note))
	}
	printReasons(w, v.Decision.Reasons)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
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
