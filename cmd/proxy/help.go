package main

import (
	"fmt"
	"io"

	"airlock/cmd/proxy/internal/checkcmd"
	"airlock/cmd/proxy/internal/cli"
	"airlock/cmd/proxy/internal/reviewcmd"
	"airlock/cmd/proxy/internal/scorecmd"
	"airlock/cmd/proxy/internal/servecmd"
	"airlock/cmd/proxy/internal/storecmd"
	"airlock/cmd/proxy/internal/verifycmd"
)

var (
	versionHelp = &cli.Command{Name: "version", Summary: "Print Airlock's version, VCS revision and the versions of the modules it was built with.",
		Usage: "airlock version", Examples: []string{"airlock version"}}
	// topCommands is the order of the top-level help.
	topCommands = []*cli.Command{servecmd.ServeHelp, reviewcmd.QuarantineHelp, reviewcmd.DownloadsHelp, reviewcmd.NamesHelp,
		checkcmd.Help, scorecmd.Help, verifycmd.Help, storecmd.MigrateHelp, storecmd.CopyHelp, servecmd.HealthHelp, versionHelp}
)

// printTopHelp writes what airlock is and what each command does.
func printTopHelp(w io.Writer) {
	fmt.Fprint(w, "airlock: a verifying install proxy for Python packages. pip and uv install through it;\n"+
		"it serves only files whose hash matched and that passed its checks, and holds the rest for review.\n\n"+
		"usage: airlock COMMAND [flags]\n\ncommands:\n")
	for _, c := range topCommands {
		fmt.Fprintf(w, "  %-11s %s\n", c.Name, c.Summary)
	}
	fmt.Fprint(w, "\nexamples:\n  airlock serve\n  pip install --index-url http://127.0.0.1:3180/simple/ requests\n"+
		"  airlock quarantine list\n\nRun 'airlock COMMAND --help' for a command's flags and examples.\n")
}
