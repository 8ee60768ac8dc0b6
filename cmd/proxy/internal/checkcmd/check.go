// Package checkcmd is `airlock check`: every file of a release evaluated
// as the server would, in a scratch store, with each decision printed.
package checkcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"airlock/adminapi"
	"airlock/cmd/proxy/internal/cli"
	"airlock/config"
	"airlock/policy"
	"airlock/server"
	"airlock/upstream"
)

var Help = &cli.Command{Name: "check", Summary: "Evaluate every file of a release as the server would, and print each decision with its reasons.",
	Usage:   "airlock check [--config FILE] NAME==VERSION",
	Details: "Downloads and verifies into a scratch directory, so it works while a server runs. Exit 0: every file would be served; 1: some would be held or blocked; 2: error.",
	Examples: []string{
		"airlock check requests==2.32.3",
		"airlock check --config /etc/airlock/config.yaml litellm==1.82.6",
	}}

// Run evaluates every file of name==version as the server would: it runs
// the same wiring on a scratch data directory (so it works while a server
// holds the real one's lock), downloads and verifies each file, inspects
// it, gathers its attestation and signals, and prints each decision with
// its reasons. Exit 0: all would be served; 1: any would be held or
// blocked; 2: error.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer, version string) int {
	fs := cli.NewFlags(Help, stderr)
	cfgPath := fs.String("config", "", "YAML config `file` (optional)")
	if code, done := cli.ParseArgs(Help, fs, args, 1, stdout, stderr); done {
		return code
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
	a, err := server.New(ctx, cfg, zerolog.Nop(), version)
	if err != nil {
		fmt.Fprintf(stderr, "airlock: %v\n", err)
		return 2
	}
	defer a.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Duration(cfg.Upstream.Timeout)+time.Duration(cfg.Upstream.FillTimeout))
	defer cancel()
	views, err := a.Gate().EvaluateDownloaded(ctx, project, release)
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
		fmt.Fprintf(stdout, "%-5s %s\n", strings.ToUpper(string(d.Action)), cli.Cell(v.Filename))
		if !v.Inputs.UploadTime.IsZero() {
			fmt.Fprintf(stdout, "      uploaded %s\n", v.Inputs.UploadTime.Format(time.RFC3339))
		}
		cli.PrintSignals(stdout, v.Inputs.Signals)
		cli.PrintReasons(stdout, d.Reasons)
	}
	if cfg.Policy.Mode == string(policy.Audit) {
		fmt.Fprintln(stdout, "(policy.mode is audit: the server would serve these files and log the decision)")
	}
	if worst.Serves() {
		return 0
	}
	return 1
}
