// Package sourcecmp compares what a release ships with its source: the
// Python files of a wheel (modules and .pth) with the repository at the
// release's tag, fetched as the forge's source archive of the tag (GitHub's
// tarball API), bounded and cached. Code in the artifact that is not in the
// repository — the compromised-pipeline shape, where a release is built,
// attested and tagged like any other but carries a file nobody committed —
// is a finding no obfuscation avoids. It knows nothing of policy: it
// returns the files that differ or are missing, and why it could not look.
package sourcecmp

import (
	"airlock/inspect"
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Cache keeps fetched trees (the store's signal documents).
type Cache interface {
	Get(ctx context.Context, key string) ([]byte, bool)
	Put(ctx context.Context, key string, body []byte)
}

// Fetcher reads a repository's files at a tag.
type Fetcher struct {
	// APIURL is the GitHub API base (https://api.github.com, or a fake).
	APIURL   string
	HTTP     *http.Client
	MaxBytes int64 // of one source archive, compressed and unpacked
	Cache    Cache
	// Token, when set, is sent as GitHub's bearer token (rate limits).
	Token string
}

// ErrNoArchive: the forge has no archive of that tag (it answered 404);
// the forge itself answers. It is an inspect.ErrNoSource.
var ErrNoArchive = fmt.Errorf("the forge has no source archive of the tag (%w)", inspect.ErrNoSource)

// ErrTooLarge: the source archive is over MaxBytes.
var ErrTooLarge = errors.New("source archive too large")

// Tree is a repository's files at a tag: path (without the archive's top
// folder) -> RECORD-style sha256 (urlsafe base64, no padding), as
// inspect.CompareSources reads it.
type Tree = map[string]string

// Tree fetches (or reads from the cache) the files of ownerRepo at tag.
func (f *Fetcher) Tree(ctx context.Context, ownerRepo, tag string) (Tree, error) {
	key := "source-tree:" + ownerRepo + "@" + tag
	if f.Cache != nil {
		if body, ok := f.Cache.Get(ctx, key); ok {
			var t Tree
			if json.Unmarshal(body, &t) == nil {
				return t, nil
			}
		}
	}
	u := strings.TrimRight(f.APIURL, "/") + "/repos/" + ownerRepo + "/tarball/" + url.PathEscape(tag)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	if f.Token != "" {
		req.Header.Set("Authorization", "Bearer "+f.Token)
	}
	client := f.HTTP
	if client == nil {
		client = &http.Client{Timeout: 2 * time.Minute}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("source archive of %s at %s: %w", ownerRepo, tag, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("%s at %s: %w", ownerRepo, tag, ErrNoArchive)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("source archive of %s at %s: the forge answered %s", ownerRepo, tag, resp.Status)
	}
	t, err := readTarball(io.LimitReader(resp.Body, f.MaxBytes+1), f.MaxBytes)
	if err != nil {
		return nil, fmt.Errorf("source archive of %s at %s: %w", ownerRepo, tag, err)
	}
	if f.Cache != nil {
		if body, err := json.Marshal(t); err == nil {
			f.Cache.Put(ctx, key, body)
		}
	}
	return t, nil
}

func readTarball(r io.Reader, max int64) (Tree, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	t := Tree{}
	var total int64
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, ErrTooLarge // cut at MaxBytes, or truncated
			}
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		_, rest, ok := strings.Cut(h.Name, "/") // owner-repo-sha/...
		if !ok || !(strings.HasSuffix(rest, ".py") || strings.HasSuffix(rest, ".pth")) {
			continue
		}
		total += h.Size
		if total > max {
			return nil, ErrTooLarge
		}
		sum := sha256.New()
		if _, err := io.Copy(sum, tr); err != nil {
			return nil, err
		}
		t[rest] = base64.RawURLEncoding.EncodeToString(sum.Sum(nil))
	}
}
