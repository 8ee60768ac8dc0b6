package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/singleflight"
)

// Cache keeps the hot blobs of a remote store (S3) on local disk, bounded
// by bytes, so a warm download is a local file again (sendfile, no
// round trip). The remote store stays the truth: a blob enters the cache
// only through a verified copy (its sha256 checked), and the cache can be
// wiped at any time.
type Cache struct {
	remote Blobs
	local  Folder
	max    int64
	log    zerolog.Logger

	mu    sync.Mutex
	used  int64
	atime map[string]time.Time // sha -> last open, for eviction
	size  map[string]int64
	fills singleflight.Group
}

// NewCache fronts remote with a local cache of at most maxBytes in dir.
// What dir holds from before is adopted (and evicted as needed).
func NewCache(remote Blobs, dir string, maxBytes int64, log zerolog.Logger) *Cache {
	c := &Cache{remote: remote, local: Folder{Dir: dir, Tmp: filepath.Join(dir, "tmp")}.Ensure(), max: maxBytes, log: log,
		atime: map[string]time.Time{}, size: map[string]int64{}}
	os.RemoveAll(c.local.Tmp)
	os.MkdirAll(c.local.Tmp, 0o755)
	filepath.Walk(filepath.Join(dir, "sha256"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && validSHA256.MatchString(info.Name()) {
			c.atime[info.Name()], c.size[info.Name()] = info.ModTime(), info.Size()
			c.used += info.Size()
		}
		return nil
	})
	c.evict()
	return c
}

// Has asks the remote store (the truth).
func (c *Cache) Has(ctx context.Context, sha string) (bool, error) {
	c.mu.Lock()
	_, cached := c.size[sha]
	c.mu.Unlock()
	if cached {
		return true, nil
	}
	return c.remote.Has(ctx, sha)
}

// Open serves from the local copy, making one (verified) on a miss; a blob
// larger than the whole cache is read from the remote store directly.
func (c *Cache) Open(ctx context.Context, sha string) (Blob, error) {
	if b, err := c.openLocal(ctx, sha); err == nil {
		return b, nil
	}
	b, err := c.remote.Open(ctx, sha)
	if err != nil {
		return nil, err
	}
	info, err := b.Stat()
	if err != nil || info.Size() > c.max/2 {
		return b, err
	}
	b.Close()
	// One copy per blob however many ask.
	if _, err, _ := c.fills.Do(sha, func() (any, error) { return nil, c.fill(context.WithoutCancel(ctx), sha) }); err != nil {
		c.log.Warn().Err(err).Str("sha256", sha).Msg("blob cache: copy failed; reading from the bucket")
		return c.remote.Open(ctx, sha)
	}
	if b, err := c.openLocal(ctx, sha); err == nil {
		return b, nil
	}
	return c.remote.Open(ctx, sha)
}

func (c *Cache) openLocal(ctx context.Context, sha string) (Blob, error) {
	b, err := c.local.Open(ctx, sha)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.atime[sha] = time.Now()
	c.mu.Unlock()
	return b, nil
}

func (c *Cache) fill(ctx context.Context, sha string) error {
	if ok, _ := c.local.Has(ctx, sha); ok {
		return nil
	}
	in, err := c.remote.Open(ctx, sha)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := c.local.Stage(ctx, c.max)
	if err != nil {
		return err
	}
	defer st.Abort()
	if _, err := st.ReadFrom(in); err != nil {
		return err
	}
	if err := st.Commit(ctx, sha); err != nil { // the bucket's copy, checked again
		return err
	}
	c.mu.Lock()
	c.atime[sha], c.size[sha] = time.Now(), st.Size()
	c.used += st.Size()
	c.mu.Unlock()
	c.evict()
	return nil
}

// evict removes the least recently opened blobs while over budget.
func (c *Cache) evict() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.used <= c.max {
		return
	}
	shas := make([]string, 0, len(c.atime))
	for s := range c.atime {
		shas = append(shas, s)
	}
	sort.Slice(shas, func(i, j int) bool { return c.atime[shas[i]].Before(c.atime[shas[j]]) })
	for _, s := range shas {
		if c.used <= c.max*9/10 {
			break
		}
		if err := os.Remove(c.local.path(s)); err != nil && !errors.Is(err, os.ErrNotExist) {
			continue
		}
		c.used -= c.size[s]
		delete(c.atime, s)
		delete(c.size, s)
	}
}

// Stage writes to the remote store; the cache fills on the first read.
func (c *Cache) Stage(ctx context.Context, max int64) (Staged, error) {
	return c.remote.Stage(ctx, max)
}
