// Package servecmd is `airlock serve` (flags, logging, memory limit, the
// welcome on a terminal; package server does the serving) and `airlock
// health` (asks a running server's /readyz).
package servecmd

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/rs/zerolog"

	"airlock/cmd/proxy/internal/cli"
	"airlock/config"
	"airlock/server"
)

var ServeHelp = &cli.Command{Name: "serve", Summary: "Run the proxy: a PyPI simple index that serves only files it verified.",
	Usage: "airlock serve [--config FILE] [--listen ADDR] [--data-dir DIR]",
	Details: "Without --config, the embedded defaults apply: PyPI upstream, listen on " +
		"127.0.0.1:3180, data in ./airlock-data. Every config key can also be set from the " +
		"environment as AIRLOCK_<SECTION>_<KEY> (see config.example.yaml).",
	Examples: []string{
		"airlock serve",
		"airlock serve --config /etc/airlock/config.yaml",
		"AIRLOCK_POLICY_COOLDOWN=48h airlock serve --listen 0.0.0.0:3180 --data-dir /var/lib/airlock",
	}}

func Serve(ctx context.Context, args []string, stdout, stderr io.Writer, version string) int {
	fs := cli.NewFlags(ServeHelp, stderr)
	cfgPath := fs.String("config", "", "YAML config `file` (optional; embedded defaults otherwise)")
	listen := fs.String("listen", "", "listen `address`, overrides the config's listen")
	dataDir := fs.String("data-dir", "", "data `directory`, overrides the config's data_dir")
	if code, done := cli.ParseFlags(ServeHelp, fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 {
		cli.UsageError(stderr, ServeHelp, fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
		return 2
	}
	cfg, err := config.LoadProcess(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "airlock: %v\n", err)
		return 2
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "airlock: %v\n", err)
		return 2
	}
	log := newLogger(cfg.Log.Level, stderr)
	if cfg.MemoryLimit > 0 && os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(int64(cfg.MemoryLimit))
	}
	var tell io.Writer
	if isTerminal(stderr) {
		tell = stderr
	}
	if err := server.Run(ctx, cfg, log, version, tell); err != nil {
		log.Error().Err(err).Msg("airlock stopped")
		fmt.Fprintf(stderr, "airlock: %v\n", err)
		return 1
	}
	return 0
}

func newLogger(level string, w io.Writer) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		lvl = zerolog.InfoLevel
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}
