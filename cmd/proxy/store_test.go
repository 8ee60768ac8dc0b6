package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"airlock/internal/pgtest"
	"airlock/storage"
)

func TestMigrateAndStoreCopy(t *testing.T) {
	ctx := t.Context()
	pg := pgtest.Start(t)
	dsn := pg.Database(t)
	t.Setenv("AIRLOCK_DATABASE_URL", dsn)
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"migrate"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "schema version 0 -> 1") {
		t.Fatalf("migrate: %d %s %s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run(ctx, []string{"migrate"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "up to date") {
		t.Fatalf("migrate again: %d %s", code, out.String())
	}
	t.Setenv("AIRLOCK_DATABASE_URL", "")

	dir := t.TempDir()
	oldDir, newDir := filepath.Join(dir, "old"), filepath.Join(dir, "new")
	src, err := storage.Open(ctx, oldDir, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("a verified wheel")
	sha := fmt.Sprintf("%x", sha256.Sum256(data))
	st, _ := src.Stage(ctx, 100)
	st.ReadFrom(bytes.NewReader(data))
	st.Commit(ctx, sha)
	src.PutFile(ctx, storage.FileRecord{Project: "p", Filename: "p-1.0-py3-none-any.whl", SHA256: sha})
	src.Close()
	from, to := filepath.Join(dir, "from.yaml"), filepath.Join(dir, "to.yaml")
	os.WriteFile(from, []byte("data_dir: "+oldDir+"\n"), 0o644)
	os.WriteFile(to, []byte("data_dir: "+newDir+"\ndatabase:\n  url: "+dsn+"\n"), 0o644)
	out.Reset()
	if code := run(ctx, []string{"store", "copy", "--from", from, "--to", to}, &out, &errb); code != 0 || !strings.Contains(out.String(), "files: 1 copied and verified") {
		t.Fatalf("store copy: %d\n%s\n%s", code, out.String(), errb.String())
	}
	dst, err := storage.OpenPostgres(context.Background(), dsn, newDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if rec, err := dst.GetFile(ctx, "p", "p-1.0-py3-none-any.whl"); err != nil || rec.SHA256 != sha || !dst.HasBlob(ctx, sha) {
		t.Errorf("copied file: %+v %v", rec, err)
	}
}
