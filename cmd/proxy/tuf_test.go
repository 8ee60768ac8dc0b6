package main

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"airlock/config"
	"airlock/server/evidence"
)

// tufRepo writes a one-key TUF repository (consistent snapshots) whose only
// target is trusted_root.json with the given content, and returns its
// directory and its root.json.
func tufRepo(t *testing.T, trustedRoot []byte) (dir string, rootFile string) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := signature.LoadSigner(priv, crypto.Hash(0))
	if err != nil {
		t.Fatal(err)
	}
	key, err := metadata.KeyFromPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(24 * time.Hour)
	root := metadata.Root(expires)
	for _, role := range []string{metadata.ROOT, metadata.TARGETS, metadata.SNAPSHOT, metadata.TIMESTAMP} {
		if err := root.Signed.AddKey(key, role); err != nil {
			t.Fatal(err)
		}
	}
	targets := metadata.Targets(expires)
	tf, err := metadata.TargetFile().FromBytes("trusted_root.json", trustedRoot, "sha256")
	if err != nil {
		t.Fatal(err)
	}
	targets.Signed.Targets["trusted_root.json"] = tf
	snapshot := metadata.Snapshot(expires)
	timestamp := metadata.Timestamp(expires)
	for _, sign := range []func() error{
		func() error { _, err := root.Sign(signer); return err },
		func() error { _, err := targets.Sign(signer); return err },
		func() error { _, err := snapshot.Sign(signer); return err },
		func() error { _, err := timestamp.Sign(signer); return err },
	} {
		if err := sign(); err != nil {
			t.Fatal(err)
		}
	}
	dir = t.TempDir()
	os.MkdirAll(filepath.Join(dir, "targets"), 0o755)
	sum := sha256.Sum256(trustedRoot)
	os.WriteFile(filepath.Join(dir, "targets", hex.EncodeToString(sum[:])+".trusted_root.json"), trustedRoot, 0o644)
	for name, write := range map[string]func(string, bool) error{
		"1.root.json": root.ToFile, "1.targets.json": targets.ToFile, "1.snapshot.json": snapshot.ToFile, "timestamp.json": timestamp.ToFile,
	} {
		if err := write(filepath.Join(dir, name), false); err != nil {
			t.Fatal(err)
		}
	}
	return dir, filepath.Join(dir, "1.root.json")
}

// TestTUFTrustedRoot: with sigstore.tuf the trusted root comes from a TUF
// repository (here a local one), and attestations verify against it; a
// repository whose target does not match its signed metadata is refused.
func TestTUFTrustedRoot(t *testing.T) {
	prod, err := os.ReadFile(fixture("trusted_root.production.json"))
	if err != nil {
		t.Fatal(err)
	}
	dir, rootFile := tufRepo(t, prod)
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	v, err := evidence.Verifier(config.Sigstore{TUF: true, TUFURL: srv.URL, TUFRoot: rootFile}, t.TempDir(), zerolog.Nop())
	if err != nil {
		t.Fatalf("TUF: %v", err)
	}
	whl := fixture("abi3info-2024.10.3-py3-none-any.whl")
	data, _ := os.ReadFile(whl)
	prov, _ := os.ReadFile(whl + ".provenance")
	sum := sha256.Sum256(data)
	if res, err := v.VerifyProvenance(filepath.Base(whl), hex.EncodeToString(sum[:]), prov); err != nil || res.PublisherSpec != "github:woodruffw/abi3info:release.yml" {
		t.Errorf("verify with the TUF root: %v", err)
	}

	// Swap the target's bytes after signing: the client must refuse it.
	bad, badRoot := tufRepo(t, prod)
	entries, _ := os.ReadDir(filepath.Join(bad, "targets"))
	os.WriteFile(filepath.Join(bad, "targets", entries[0].Name()), []byte(strings.Replace(string(prod), "rekor", "rekoR", 1)), 0o644)
	badSrv := httptest.NewServer(http.FileServer(http.Dir(bad)))
	defer badSrv.Close()
	if _, err := evidence.Verifier(config.Sigstore{TUF: true, TUFURL: badSrv.URL, TUFRoot: badRoot}, t.TempDir(), zerolog.Nop()); err == nil || !strings.Contains(err.Error(), "sigstore.tuf") {
		t.Errorf("tampered TUF target accepted: %v", err)
	}
}
