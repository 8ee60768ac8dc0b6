package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"airlock/adminapi"
	"airlock/config"
	"airlock/policy"
	"airlock/upstream"
)

// check evaluates every file of name==version as the server would: it runs
// the same wiring on a scratch data directory (so it works while a server
// holds the real one's lock), downloads and verifies each file, inspects
// it, gathers its attestation and signals, and prints each decision with
// its reasons. Exit 0: all would be served; 1: any would be held or
// blocked; 2: error.
func check(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags(checkHelp, stderr)
	cfgPath := fs.String("config", "", "YAML config `file` (optional)")
	if code, done := parseFlags(checkHelp, fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() != 1 {
		usageError(stderr, checkHelp, "")
		return 2
	}
	project, release, err := adminapi.ParseTarget(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "airlock check: %v\n", err)
		return 2
	}
	cfg, err := config.LoadProcess(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "airlock: %v\n", err)
		return 2
	}
	scratch, err := os.MkdirTemp("", "airlock-check-")
	if err != nil {
		fmt.Fprintf(stderr, "airlock check: %v\n", err)
		return 2
	}
	defer os.RemoveAll(scratch)
	cfg.DataDir, cfg.Notify.Webhooks, cfg.Admin.Token = scratch, nil, ""
	a, err := App(ctx, cfg, zerolog.Nop())
	if err != nil {
		fmt.Fprintf(stderr, "airlock: %v\n", err)
		return 2
	}
	defer a.cleanup()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Duration(cfg.Upstream.Timeout)+time.Duration(cfg.Upstream.FillTimeout))
	defer cancel()
	views, err := a.gate.EvaluateDownloaded(ctx, project, release)
	if err != nil {
		if errors.Is(err, upstream.ErrNotFound) {
			fmt.Fprintf(stderr, "airlock check: no files for %s==%s upstream\n", project, release)
		} else {
			fmt.Fprintf(stderr, "airlock check: %s: %v\n", project, err)
		}
		return 2
	}
	worst := policy.Allow
	for _, v := range views {
		d := v.Decision
		if d.Action.Stronger(worst) {
			worst = d.Action
		}
		fmt.Fprintf(stdout, "%-5s %s\n", strings.ToUpper(string(d.Action)), cell(v.Filename))
		if !v.Inputs.UploadTime.IsZero() {
			fmt.Fprintf(stdout, "      uploaded %s\n", v.Inputs.UploadTime.Format(time.RFC3339))
		}
		printSignals(stdout, v.Inputs.Signals)
		printReasons(stdout, d.Reasons)
	}
	if cfg.Policy.Mode == string(policy.Audit) {
		fmt.Fprintln(stdout, "(policy.mode is audit: the server would serve these files and log the decision)")
	}
	if worst.Serves() {
		return 0
	}
	return 1
}

// printSignals writes the behavioural facts behind a decision.
func printSignals(w io.Writer, s *policy.Signals) {
	if s == nil {
		return
	}
	score := "unknown"
	if s.Score != nil {
		score = fmt.Sprint(*s.Score)
	}
	fmt.Fprintf(w, "      signals: score %s, flags [%s], repository %s", score, strings.Join(s.Flags, ", "), firstNonEmpty(s.Repository, "none"))
	if s.Tag != nil {
		fmt.Fprintf(w, ", tag %s (%s %s)", s.Tag.Name, s.Tag.How, s.Tag.Time.Format(time.RFC3339))
	}
	fmt.Fprintln(w)
	for src, why := range s.Unknown {
		fmt.Fprintf(w, "      unknown %s: %s\n", src, why)
	}
}

// printReasons writes each reason with its evidence, indented.
func printReasons(w io.Writer, reasons []policy.Reason) {
	for _, r := range reasons {
		fmt.Fprintf(w, "      %s [%s]: %s\n", r.Check, r.Action, cell(r.Message))
		keys := make([]string, 0, len(r.Evidence))
		for k := range r.Evidence {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "        %s: %s\n", k, cell(evidenceValue(r.Evidence[k])))
		}
	}
}

// evidenceValue writes a number that came through JSON as people write it
// (1209600, not 1.2096e+06).
func evidenceValue(v any) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}
