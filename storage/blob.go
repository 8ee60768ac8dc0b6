package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"syscall"
)

// ErrHashMismatch means downloaded bytes did not hash to the expected value.
var ErrHashMismatch = errors.New("sha256 mismatch")

// ErrFull means the data directory's file system has no room left.
var ErrFull = errors.New("the store is full")

// full marks out-of-space errors as ErrFull, keeping the cause.
func full(err error) error {
	if err != nil && (errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)) && !errors.Is(err, ErrFull) {
		return fmt.Errorf("%w: %w", ErrFull, err)
	}
	return err
}

// ErrTooLarge means a download exceeded its size cap.
var ErrTooLarge = errors.New("file exceeds size limit")

var validSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (s *Store) blobPath(sha string) string {
	return filepath.Join(s.dir, "blobs", "sha256", sha[:2], sha)
}

// OpenBlob opens a stored blob for reading.
func (s *Store) OpenBlob(sha string) (*os.File, error) {
	if !validSHA256.MatchString(sha) {
		return nil, fmt.Errorf("storage: bad sha256 %q", sha)
	}
	f, err := os.Open(s.blobPath(sha))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	return f, err
}

// HasBlob reports whether a blob is stored.
func (s *Store) HasBlob(sha string) bool {
	if !validSHA256.MatchString(sha) {
		return false
	}
	_, err := os.Stat(s.blobPath(sha))
	return err == nil
}

// Staged is a download in progress: bytes written to it go to a temp file in
// the data directory and through sha256. Nothing is visible to readers until
// Commit has checked the hash, synced and renamed it.
type Staged struct {
	s    *Store
	f    *os.File
	w    io.Writer // f, or a fault in tests
	h    hash.Hash
	n    int64
	max  int64
	done bool
}

// Stage starts a download of at most max bytes.
func (s *Store) Stage(max int64) (*Staged, error) {
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "fill-*")
	if err != nil {
		return nil, full(fmt.Errorf("storage: %w", err))
	}
	return &Staged{s: s, f: f, w: f, h: sha256.New(), max: max}, nil
}

// ReadFrom copies r into the staged file, failing with ErrTooLarge past max.
func (st *Staged) ReadFrom(r io.Reader) (int64, error) {
	n, err := io.Copy(io.MultiWriter(fullWriter{st.w}, st.h), io.LimitReader(r, st.max-st.n+1))
	st.n += n
	if err != nil {
		return n, err
	}
	if st.n > st.max {
		return n, fmt.Errorf("%w (%d bytes)", ErrTooLarge, st.max)
	}
	return n, nil
}

// Size returns the number of bytes staged so far.
func (st *Staged) Size() int64 { return st.n }

// SHA256 returns the hex digest of the bytes staged so far.
func (st *Staged) SHA256() string { return hex.EncodeToString(st.h.Sum(nil)) }

// Commit checks the staged bytes against want, syncs them and moves them to
// their content address. On a mismatch nothing is stored.
func (st *Staged) Commit(want string) error {
	defer st.Abort()
	if got := st.SHA256(); got != want {
		return fmt.Errorf("%w: got %s, want %s", ErrHashMismatch, got, want)
	}
	if err := st.f.Sync(); err != nil {
		return full(fmt.Errorf("storage: sync: %w", err))
	}
	if err := st.f.Close(); err != nil {
		return full(fmt.Errorf("storage: close: %w", err))
	}
	dst := st.s.blobPath(want)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return full(fmt.Errorf("storage: %w", err))
	}
	if err := os.Rename(st.f.Name(), dst); err != nil {
		return fmt.Errorf("storage: commit blob: %w", err)
	}
	st.done = true
	// Sync the directory so the rename survives a crash before the record
	// that points at it is written.
	if d, err := os.Open(filepath.Dir(dst)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Abort removes the temp file unless it was committed. Safe to call twice.
func (st *Staged) Abort() {
	if st.done {
		return
	}
	st.done = true
	st.f.Close()
	os.Remove(st.f.Name())
}

// BlobPath is where a blob with this digest lives.
func (s *Store) BlobPath(sha string) string { return s.blobPath(sha) }

// fullWriter marks the staged file's out-of-space write errors as ErrFull
// (io.Copy cannot tell a write error from a read error otherwise).
type fullWriter struct{ w io.Writer }

func (f fullWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	return n, full(err)
}

// FreeBytes reports the space left for the data directory.
func (s *Store) FreeBytes() (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
