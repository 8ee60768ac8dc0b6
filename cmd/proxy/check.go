package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"airlock/adminapi"
	"airlock/attest"
	"airlock/config"
	"airlock/index"
	"airlock/policy"
	"airlock/signals"
	"airlock/storage"
	"airlock/upstream"
)

// check evaluates every file of name==version with the server's engine,
// straight against the upstream. It opens no data directory, so it works
// while a server holds the store's lock. Exit 0: all would be served;
// 1: any would be held or blocked; 2: error.
func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "YAML config `file` (optional)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: airlock check [--config FILE] name==version")
		return 2
	}
	project, release, err := adminapi.ParseTarget(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "airlock check: %v\n", err)
		return 2
	}
	cfg, err := config.Load(*cfgPath, os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "airlock: %v\n", err)
		return 2
	}
	rules, err := cfg.Policy.Rules()
	if err != nil {
		fmt.Fprintf(stderr, "airlock: %v\n", err)
		return 2
	}
	engine, err := policy.NewEngine(rules)
	if err != nil {
		fmt.Fprintf(stderr, "airlock: %v\n", err)
		return 2
	}
	verifier, err := newVerifier(cfg.Sigstore, zerolog.Nop())
	if err != nil {
		fmt.Fprintf(stderr, "airlock: %v\n", err)
		return 2
	}
	up := upstream.New(upstream.Options{BaseURL: cfg.UpstreamURL(), FileHosts: cfg.Upstream.FileHosts,
		Timeout: time.Duration(cfg.Upstream.Timeout), MaxPageBytes: int64(cfg.Upstream.MaxPageBytes), UserAgent: "airlock/" + version})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Duration(cfg.Upstream.Timeout))
	defer cancel()
	res, err := up.FetchProject(ctx, project, storage.Validators{})
	if err != nil {
		fmt.Fprintf(stderr, "airlock check: %s: %v\n", project, err)
		return 2
	}
	gatherer := attest.New(up, cfg.UpstreamURL(), verifier, nil)
	assessor := newAssessor(cfg, &signals.MemCache{})
	now := time.Now()
	worst, n := policy.Allow, 0
	for _, f := range res.Page.Files {
		v, _ := index.VersionFromFilename(project, f.Filename)
		if v != release {
			continue
		}
		n++
		in := policy.Input{Project: project, Version: v, Filename: f.Filename, SHA256: f.SHA256(), UploadTime: f.UploadTime}
		if in.SHA256 == "" {
			in.GatherErrors = append(in.GatherErrors, "the index lists no sha256; Airlock never serves it")
		} else {
			gatherer.Fill(ctx, res.Page, f, &in)
			if assessor != nil {
				in.Signals = assessor.ForRelease(ctx, project, v)
			}
		}
		d := engine.Evaluate(in, now)
		if d.Action.Stronger(worst) {
			worst = d.Action
		}
		fmt.Fprintf(stdout, "%-5s %s\n", strings.ToUpper(string(d.Action)), f.Filename)
		if !f.UploadTime.IsZero() {
			fmt.Fprintf(stdout, "      uploaded %s\n", f.UploadTime.Format(time.RFC3339))
		}
		printSignals(stdout, in.Signals)
		printReasons(stdout, d.Reasons)
	}
	if n == 0 {
		fmt.Fprintf(stderr, "airlock check: no files for %s==%s upstream\n", project, release)
		return 2
	}
	if rules.Mode == policy.Audit {
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
		fmt.Fprintf(w, "      %s [%s]: %s\n", r.Check, r.Action, r.Message)
		for k, v := range r.Evidence {
			fmt.Fprintf(w, "        %s: %v\n", k, v)
		}
	}
}
