package main

import (
	"airlock/cmd/proxy/internal/cli"
	"fmt"
	"io"
	"runtime/debug"
)

// versionCmd prints the release, the VCS revision the binary was built
// from, the Go version and every module compiled in: what a security
// engineer needs to know which code is running.
func versionCmd(args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlags(versionHelp, stderr)
	if code, done := cli.ParseFlags(versionHelp, fs, args, stdout, stderr); done {
		return code
	}
	fmt.Fprintf(stdout, "airlock %s\n", version)
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return 0
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		dirty := ""
		if settings["vcs.modified"] == "true" {
			dirty = " (with uncommitted changes)"
		}
		fmt.Fprintf(stdout, "revision %s%s, committed %s\n", rev, dirty, settings["vcs.time"])
	} else {
		fmt.Fprintln(stdout, "revision unknown (built outside a git checkout)")
	}
	fmt.Fprintf(stdout, "built with %s for %s/%s\n", info.GoVersion, settings["GOOS"], settings["GOARCH"])
	fmt.Fprintln(stdout, "modules:")
	for _, m := range info.Deps {
		if m.Replace != nil {
			m = m.Replace
		}
		fmt.Fprintf(stdout, "  %s %s\n", m.Path, m.Version)
	}
	return 0
}
