// Package pgtest starts a throwaway PostgreSQL cluster for tests: initdb
// into a temporary folder (as the unprivileged postgres user when the
// tests run as root), a free port on loopback, removed at the end.
// scripts/test.sh installs Debian's postgresql when it is missing.
package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cluster is a running PostgreSQL server.
type Cluster struct {
	Port int
	dir  string
	bin  string
	as   *user.User // run the server as this user (nil: as ourselves)
	n    atomic.Int32
	// durable keeps fsync and synchronous commits on (benchmarks); tests
	// run without them, as nothing needs to survive the machine.
	durable bool
}

// bindir finds initdb: on the PATH, or in Debian's versioned directory.
func bindir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(real), nil
		}
		return filepath.Dir(p), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(matches) > 0 {
		return filepath.Dir(matches[len(matches)-1]), nil
	}
	return "", fmt.Errorf("PostgreSQL not found: run `bash scripts/test.sh` (it installs Debian's postgresql)")
}

func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(c.bin, name)
	if c.as == nil {
		return exec.Command(path, args...)
	}
	return exec.Command("runuser", append([]string{"-u", c.as.Username, "--", path}, args...)...)
}

func (c *Cluster) options() string {
	o := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", c.Port, c.dir)
	if !c.durable {
		o += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	}
	return o
}

// Start creates and starts a cluster that lives until the test ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	c := StartDetached(t)
	t.Cleanup(c.Shutdown)
	return c
}

// StartDurable is Start with PostgreSQL's default durability (fsync and
// synchronous commit), for benchmarks that compare with bbolt's.
func StartDurable(t testing.TB) *Cluster {
	t.Helper()
	c := startDetached(t, true)
	t.Cleanup(c.Shutdown)
	return c
}

// Shutdown stops the cluster and removes its files.
func (c *Cluster) Shutdown() {
	c.command("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "stop").Run()
	os.RemoveAll(c.dir)
}

// StartDetached starts a cluster that outlives the test that asked for it
// (the caller stops it with Shutdown).
func StartDetached(t testing.TB) *Cluster {
	t.Helper()
	return startDetached(t, false)
}

func startDetached(t testing.TB, durable bool) *Cluster {
	t.Helper()
	bin, err := bindir()
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{bin: bin, durable: durable}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		if c.as, err = user.Lookup("postgres"); err != nil {
			t.Fatalf("running as root and no postgres user to run the test cluster as: %v", err)
		}
	}
	c.dir, err = os.MkdirTemp("", "airlock-pg-")
	if err != nil {
		t.Fatal(err)
	}
	if c.as != nil {
		uid, _ := strconv.Atoi(c.as.Uid)
		gid, _ := strconv.Atoi(c.as.Gid)
		if err := os.Chown(c.dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.Port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	data := filepath.Join(c.dir, "data")
	if out, err := c.command("initdb", "-D", data, "-U", "airlock", "--auth=trust", "-E", "UTF8", "--no-instructions").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	c.Restart(t)
	return c
}

// DSN is the connection string of a database.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("postgres://airlock@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// Database creates a new, empty database and returns its DSN.
func (c *Cluster) Database(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("airlock_%d", c.n.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return c.DSN(name)
}

// Stop stops the server (a database that goes away).
func (c *Cluster) Stop(t testing.TB) {
	if out, err := c.command("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "fast", "-w", "stop").CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

// Restart starts the (stopped) server on its port.
func (c *Cluster) Restart(t testing.TB) {
	if out, err := c.command("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-o", c.options(), "-l", filepath.Join(c.dir, "log"), "-w", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}
