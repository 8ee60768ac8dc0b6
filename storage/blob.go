package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
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

// Blob is a stored file's bytes, readable and seekable (http.ServeContent
// answers Range requests from it). The folder's are *os.File, so the
// kernel sends them (sendfile).
type Blob interface {
	io.ReadSeekCloser
	io.ReaderAt
	Stat() (fs.FileInfo, error)
}

// Staged is a download in progress: nothing of it is visible to readers
// until Commit has checked its sha256.
type Staged interface {
	io.ReaderFrom
	// Size and SHA256 describe the bytes staged so far.
	Size() int64
	SHA256() string
	// Commit checks the bytes against want and makes them the blob want;
	// on a mismatch nothing is stored.
	Commit(ctx context.Context, want string) error
	// Abort discards the staged bytes (safe after Commit, and twice).
	Abort()
}

// Blobs is where verified bytes live, by sha256: a folder in the data
// directory (the default) or an S3-compatible bucket.
type Blobs interface {
	Has(ctx context.Context, sha string) (bool, error)
	// Open returns ErrNotFound for a blob that is not stored.
	Open(ctx context.Context, sha string) (Blob, error)
	// Stage starts a download of at most max bytes.
	Stage(ctx context.Context, max int64) (Staged, error)
}

// OpenBlob opens a stored blob for reading.
func (s *Store) OpenBlob(ctx context.Context, sha string) (Blob, error) {
	if !validSHA256.MatchString(sha) {
		return nil, fmt.Errorf("storage: bad sha256 %q", sha)
	}
	return s.blobs.Open(ctx, sha)
}

// HasBlob reports whether a blob is stored (false when that cannot be
// told: the caller then fetches, verifies and stores it again).
func (s *Store) HasBlob(ctx context.Context, sha string) bool {
	if !validSHA256.MatchString(sha) {
		return false
	}
	ok, err := s.blobs.Has(ctx, sha)
	return err == nil && ok
}

// Stage starts a download of at most max bytes.
func (s *Store) Stage(ctx context.Context, max int64) (Staged, error) {
	return s.blobs.Stage(ctx, max)
}

// BlobSize is a stored blob's size.
func (s *Store) BlobSize(ctx context.Context, sha string) (int64, error) {
	b, err := s.OpenBlob(ctx, sha)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	info, err := b.Stat()
	if err != nil {
		return 0, err
	}
	return info.Size(), nil
}

// Folder keeps blobs in a directory, as dir/sha256/ab/abcdef…, staging
// them in tmp (the same file system, so a commit is a rename).
type Folder struct {
	Dir, Tmp string
}

func (b Folder) path(sha string) string { return filepath.Join(b.Dir, "sha256", sha[:2], sha) }

// Has reports whether the blob exists.
func (b Folder) Has(_ context.Context, sha string) (bool, error) {
	_, err := os.Stat(b.path(sha))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Open opens the blob's file.
func (b Folder) Open(_ context.Context, sha string) (Blob, error) {
	f, err := os.Open(b.path(sha))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Stage starts a temp file that Commit syncs and renames into place.
func (b Folder) Stage(_ context.Context, max int64) (Staged, error) {
	return newFileStaged(b.Tmp, max, func(_ context.Context, f *os.File, sha string) error {
		if err := f.Sync(); err != nil {
			return full(fmt.Errorf("storage: sync: %w", err))
		}
		if err := f.Close(); err != nil {
			return full(fmt.Errorf("storage: close: %w", err))
		}
		dst := b.path(sha)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return full(fmt.Errorf("storage: %w", err))
		}
		if err := os.Rename(f.Name(), dst); err != nil {
			return fmt.Errorf("storage: commit blob: %w", err)
		}
		// Sync the directory so the rename survives a crash before the
		// record that points at it is written.
		if d, err := os.Open(filepath.Dir(dst)); err == nil {
			d.Sync()
			d.Close()
		}
		return nil
	})
}

// fileStaged stages bytes in a temp file, hashing them on the way; commit
// moves a verified file to its place (and owns the file from then on).
type fileStaged struct {
	f      *os.File
	w      io.Writer // f, or a fault in tests
	h      hash.Hash
	n      int64
	max    int64
	done   bool
	commit func(ctx context.Context, f *os.File, sha string) error
}

func newFileStaged(tmp string, max int64, commit func(context.Context, *os.File, string) error) (*fileStaged, error) {
	f, err := os.CreateTemp(tmp, "fill-*")
	if err != nil {
		return nil, full(fmt.Errorf("storage: %w", err))
	}
	return &fileStaged{f: f, w: f, h: sha256.New(), max: max, commit: commit}, nil
}

// ReadFrom copies r into the staged file, failing with ErrTooLarge past max.
func (st *fileStaged) ReadFrom(r io.Reader) (int64, error) {
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

func (st *fileStaged) Size() int64    { return st.n }
func (st *fileStaged) SHA256() string { return hex.EncodeToString(st.h.Sum(nil)) }

func (st *fileStaged) Commit(ctx context.Context, want string) error {
	defer st.Abort()
	if got := st.SHA256(); got != want {
		return fmt.Errorf("%w: got %s, want %s", ErrHashMismatch, got, want)
	}
	if err := st.commit(ctx, st.f, want); err != nil {
		return err
	}
	st.done = true
	return nil
}

func (st *fileStaged) Abort() {
	if st.done {
		return
	}
	st.done = true
	st.f.Close()
	os.Remove(st.f.Name())
}

// fullWriter marks the staged file's out-of-space write errors as ErrFull
// (io.Copy cannot tell a write error from a read error otherwise).
type fullWriter struct{ w io.Writer }

func (f fullWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	return n, full(err)
}

// FreeBytes reports the space left for the data directory.
func (s *Store) FreeBytes(ctx context.Context) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// Ensure creates the folder's directories.
func (b Folder) Ensure() Folder {
	os.MkdirAll(filepath.Join(b.Dir, "sha256"), 0o755)
	os.MkdirAll(b.Tmp, 0o755)
	return b
}
