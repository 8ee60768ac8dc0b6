package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one command's help: what it does in a line, how it is
// called, and examples. Every command and subcommand has one, and its
// --help prints it (with the command's own flags) and exits 0.
type command struct {
	name     string // as typed after "airlock"
	summary  string
	usage    string
	details  string
	examples []string
}

var (
	serveHelp = &command{name: "serve", summary: "Run the proxy: a PyPI simple index that serves only files it verified.",
		usage: "airlock serve [--config FILE] [--listen ADDR] [--data-dir DIR]",
		details: "Without --config, the embedded defaults apply: PyPI upstream, listen on " +
			"127.0.0.1:3180, data in ./airlock-data. Every config key can also be set from the " +
			"environment as AIRLOCK_<SECTION>_<KEY> (see config.example.yaml).",
		examples: []string{
			"airlock serve",
			"airlock serve --config /etc/airlock/config.yaml",
			"AIRLOCK_POLICY_COOLDOWN=48h airlock serve --listen 0.0.0.0:3180 --data-dir /var/lib/airlock",
		}}
	checkHelp = &command{name: "check", summary: "Evaluate every file of a release as the server would, and print each decision with its reasons.",
		usage:   "airlock check [--config FILE] NAME==VERSION",
		details: "Downloads and verifies into a scratch directory, so it works while a server runs. Exit 0: every file would be served; 1: some would be held or blocked; 2: error.",
		examples: []string{
			"airlock check requests==2.32.3",
			"airlock check --config /etc/airlock/config.yaml litellm==1.82.6",
		}}
	scoreHelp = &command{name: "score", summary: "Print a project's behaviour score with the points of each signal.",
		usage:    "airlock score [--config FILE] [--json] PROJECT",
		examples: []string{"airlock score requests", "airlock score --json ultralytics"}}
	verifyHelp = &command{name: "verify", summary: "Verify a local distribution against its PEP 740 provenance or attestation.",
		usage:   "airlock verify [--provenance FILE] [--trusted-root FILE] [--publisher SPEC] DIST",
		details: "Exit 0: verified; 1: not verified (the reason is printed); 2: bad usage.",
		examples: []string{
			"airlock verify sampleproject-4.0.0-py3-none-any.whl",
			"airlock verify --publisher github:pypa/sampleproject:release.yml --provenance att.json sampleproject-4.0.0.tar.gz",
		}}
	versionHelp = &command{name: "version", summary: "Print Airlock's version, VCS revision and the versions of the modules it was built with.",
		usage: "airlock version", examples: []string{"airlock version"}}
	quarantineHelp = &command{name: "quarantine", summary: "Review held files on a running server: list, show, approve, reject, reopen.",
		usage: "airlock quarantine list|show|approve|reject|reopen|override [flags] [TARGET]",
		details: "TARGET is a sha256, a 12-digit review id, or NAME==VERSION (every file of that release " +
			"in a state the action applies to). The admin token comes from AIRLOCK_ADMIN_TOKEN; the " +
			"server from --server, AIRLOCK_SERVER or http://127.0.0.1:3180. " +
			"Run 'airlock quarantine SUBCOMMAND --help' for each one's flags.",
		examples: []string{
			"export AIRLOCK_ADMIN_TOKEN=...",
			"airlock quarantine list",
			"airlock quarantine show litellm==1.82.6",
			`airlock quarantine approve --reason "checked the diff with the maintainers" requests==2.32.3`,
		}}
	quarantineSubs = map[string]*command{
		"list": {name: "quarantine list", summary: "List files by state (held by default), newest first.",
			usage: "airlock quarantine list [--server URL] [--state STATE] [--project NAME] [--check CHECK] [--json]",
			examples: []string{"airlock quarantine list", "airlock quarantine list --state all --project litellm",
				"airlock quarantine list --check cooldown --json"}},
		"show": {name: "quarantine show", summary: "Show a file's decision, its reasons, evidence and history.",
			usage:    "airlock quarantine show [--server URL] [--json] TARGET",
			examples: []string{"airlock quarantine show litellm==1.82.6", "airlock quarantine show 3f2a9c1e0b7d"}},
		"approve": {name: "quarantine approve", summary: "Approve held files: they are served once every remaining check has run.",
			usage: "airlock quarantine approve [--server URL] [--waive CHECKS] [--evidence FINGERPRINT] --reason TEXT TARGET",
			details: "An approval waives only the holds it names: without --waive, a cooldown and nothing else. A file " +
				"also held for content, a vulnerability or anything else is refused with those reasons listed, until " +
				"each is waived by name. --evidence (printed by quarantine show) refuses the approval if the decision " +
				"changed since it was shown.",
			examples: []string{`airlock quarantine approve --reason "reviewed: build change only" requests==2.32.3`,
				`airlock quarantine approve --waive cooldown,content --evidence 3f0c2a9e1b7d4c58 --reason "the downloader is the vendor's updater" pkg==1.1`}},
		"reject": {name: "quarantine reject", summary: "Reject files: they are never served and leave the client's pages.",
			usage:    "airlock quarantine reject [--server URL] --reason TEXT TARGET",
			examples: []string{`airlock quarantine reject --reason "credential stealer in .pth" litellm==1.82.8`}},
		"override": {name: "quarantine override", summary: "Approve files a known-malicious advisory blocks (audited; a plain approve refuses them).",
			usage:    "airlock quarantine override [--server URL] --reason TEXT TARGET",
			examples: []string{`airlock quarantine override --reason "MAL-2026-1234 is a false report, confirmed with OSV" pkg==1.0`}},
		"reopen": {name: "quarantine reopen", summary: "Reopen a decision: the files are held for review again.",
			usage:    "airlock quarantine reopen [--server URL] --reason TEXT TARGET",
			examples: []string{`airlock quarantine reopen --reason "maintainer account compromised" pkg==1.2.3`}},
	}
	// topCommands is the order of the top-level help.
	topCommands = []*command{serveHelp, quarantineHelp, downloadsHelp, namesHelp, checkHelp, scoreHelp, verifyHelp, migrateHelp, storeCopyHelp, healthHelp, versionHelp}
)

// printTopHelp writes what airlock is and what each command does.
func printTopHelp(w io.Writer) {
	fmt.Fprint(w, "airlock: a verifying install proxy for Python packages. pip and uv install through it;\n"+
		"it serves only files whose hash matched and that passed its checks, and holds the rest for review.\n\n"+
		"usage: airlock COMMAND [flags]\n\ncommands:\n")
	for _, c := range topCommands {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nexamples:\n  airlock serve\n  pip install --index-url http://127.0.0.1:3180/simple/ requests\n"+
		"  airlock quarantine list\n\nRun 'airlock COMMAND --help' for a command's flags and examples.\n")
}

// printHelp writes a command's help; fs may be nil for a command without flags.
func printHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "%s\n\nusage: %s\n", c.summary, c.usage)
	if c.details != "" {
		fmt.Fprintf(w, "\n%s\n", wrap(c.details, 78))
	}
	if fs != nil && hasFlags(fs) {
		fmt.Fprint(w, "\nflags:\n")
		out := fs.Output()
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(out)
	}
	if len(c.examples) > 0 {
		fmt.Fprint(w, "\nexamples:\n")
		for _, e := range c.examples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// newFlags makes a command's flag set. Errors go to stderr; help is
// printed by parseFlags.
func newFlags(c *command, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args. done reports that the command should exit with
// code: 0 after --help (the help went to stdout), 2 after a bad flag.
func parseFlags(c *command, fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, done bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, flag.ErrHelp):
		printHelp(stdout, c, fs)
		return 0, true
	}
	usageError(stderr, c, "")
	return 2, true
}

// usageError reports a bad invocation: the message (if any), the usage
// line and where to read more.
func usageError(stderr io.Writer, c *command, msg string) {
	if msg != "" {
		fmt.Fprintf(stderr, "airlock %s: %s\n", c.name, msg)
	}
	fmt.Fprintf(stderr, "usage: %s\nRun 'airlock %s --help' for details.\n", c.usage, c.name)
}

// wrap breaks text into lines of at most width characters.
func wrap(text string, width int) string {
	var b strings.Builder
	n := 0
	for _, word := range strings.Fields(text) {
		if n > 0 && n+1+len(word) > width {
			b.WriteByte('\n')
			n = 0
		} else if n > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(word)
		n += len(word)
	}
	return b.String()
}
