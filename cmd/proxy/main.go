// Command airlock is a verifying install proxy for Python packages: a PEP
// 503/691 simple index that pip and uv install through, serving only files
// whose sha256 matched what the upstream index published.
//
// Each command lives in a package under internal/ with its help;
// airlock --help lists them (help.go).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"airlock/cmd/proxy/internal/checkcmd"
	"airlock/cmd/proxy/internal/reviewcmd"
	"airlock/cmd/proxy/internal/scorecmd"
	"airlock/cmd/proxy/internal/servecmd"
	"airlock/cmd/proxy/internal/storecmd"
	"airlock/cmd/proxy/internal/verifycmd"
	"airlock/textsafe"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// SIGTERM or Ctrl-C cancels ctx: serve shuts down gracefully, every
	// other command stops what it is doing (each is handed ctx).
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a subcommand and returns the process exit code:
// 0 success, 1 failure, 2 bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printTopHelp(stderr)
		return 2
	}
	// What these commands print comes from upstreams and archives:
	// nothing in it may drive the terminal.
	stdout = textsafe.Writer{W: stdout}
	switch args[0] {
	case "serve":
		return servecmd.Serve(ctx, args[1:], stdout, stderr, version)
	case "check":
		return checkcmd.Run(ctx, args[1:], stdout, stderr, version)
	case "score":
		return scorecmd.Run(ctx, args[1:], stdout, stderr)
	case "verify":
		return verifycmd.Run(ctx, args[1:], stdout, stderr)
	case "quarantine":
		return reviewcmd.Quarantine(ctx, args[1:], stdout, stderr, os.Getenv)
	case "downloads":
		return reviewcmd.Downloads(ctx, args[1:], stdout, stderr, os.Getenv)
	case "names":
		return reviewcmd.Names(ctx, args[1:], stdout, stderr, os.Getenv)
	case "store":
		return storecmd.Store(ctx, args[1:], stdout, stderr)
	case "migrate":
		return storecmd.Migrate(ctx, args[1:], stdout, stderr)
	case "health":
		return servecmd.Health(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		return versionCmd(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		if len(args) > 1 { // airlock help COMMAND
			return run(ctx, append(args[1:2:2], "--help"), stdout, stderr)
		}
		printTopHelp(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "airlock: unknown command %q\n\n", args[0])
	printTopHelp(stderr)
	return 2
}
