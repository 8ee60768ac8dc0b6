package pullthrough

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"airlock/index"
	"airlock/internal/flight"
	"airlock/storage"
)

// ErrNoWheelMetadata: a wheel whose archive has no single
// .dist-info/METADATA (no installer could install it either).
var ErrNoWheelMetadata = errors.New("the wheel has no single .dist-info/METADATA")

// MetadataFromWheel is a wheel's PEP 658 metadata where the upstream
// publishes none (this machine's PyPI mirror, many private indexes): the
// wheel is filled, verified against its listed hash, and its
// .dist-info/METADATA is kept as the metadata file. A resolver then reads
// a few kilobytes instead of the wheel (or, like uv, ranges of it), and
// the wheel is stored for the download that follows. The record's hash is
// of the bytes extracted; nothing comes from anywhere but the verified
// wheel.
func (c *Cache) MetadataFromWheel(ctx context.Context, page *index.Page, distName string) (storage.FileRecord, error) {
	f, ok := page.Lookup(distName)
	if !ok {
		return storage.FileRecord{}, ErrNotListed
	}
	if !strings.HasSuffix(f.Filename, ".whl") || f.SHA256() == "" {
		return storage.FileRecord{}, ErrNoMetadata
	}
	wheel, err := c.Ensure(ctx, page, f)
	if err != nil {
		return storage.FileRecord{}, err
	}
	return flight.Do(ctx, &c.fills, "metadata-of/"+wheel.SHA256, c.opt.FillTimeout, func(fctx context.Context) (storage.FileRecord, error) {
		return c.extractMetadata(fctx, page, f, wheel)
	})
}

func (c *Cache) extractMetadata(ctx context.Context, page *index.Page, f index.File, wheel storage.FileRecord) (storage.FileRecord, error) {
	c.wheelMetaMu.Lock()
	rec, known := c.wheelMeta[wheel.SHA256]
	c.wheelMetaMu.Unlock()
	if known && rec.Filename == f.Filename+MetadataSuffix && c.opt.Store.HasBlob(ctx, rec.SHA256) {
		c.opt.Metrics.Cache.WithLabelValues("metadata", "hit").Inc()
		return rec, nil
	}
	rec, err := c.makeMetadata(ctx, page, f, wheel)
	if err != nil {
		return rec, err
	}
	c.wheelMetaMu.Lock()
	if c.wheelMeta == nil || len(c.wheelMeta) >= wheelMetaMax {
		c.wheelMeta = map[string]storage.FileRecord{}
	}
	c.wheelMeta[wheel.SHA256] = rec
	c.wheelMetaMu.Unlock()
	return rec, nil
}

// wheelMetaMax bounds the metadata remembered; past it, the memory starts
// over (a miss reads the wheel's directory again).
const wheelMetaMax = 50_000

// makeMetadata reads the wheel's METADATA and stores it as the metadata
// file.
func (c *Cache) makeMetadata(ctx context.Context, page *index.Page, f index.File, wheel storage.FileRecord) (storage.FileRecord, error) {
	c.opt.Metrics.Cache.WithLabelValues("metadata", "extracted").Inc()
	blob, err := c.opt.Store.OpenBlob(ctx, wheel.SHA256)
	if err != nil {
		return storage.FileRecord{}, err
	}
	meta, err := WheelMetadata(blob, wheel.Size, c.opt.MaxMetaBytes)
	blob.Close()
	if err != nil {
		return storage.FileRecord{}, fmt.Errorf("%s: %w", f.Filename, err)
	}
	sum := sha256.Sum256(meta)
	t := Target{Project: page.Name, Key: f.Filename + MetadataSuffix, File: f, URL: f.URL + MetadataSuffix,
		SHA256: hex.EncodeToString(sum[:]), Size: int64(len(meta)), Max: int64(len(meta)), Metadata: true, Source: page.Source}
	if rec, err := c.opt.Store.GetFile(ctx, page.Name, t.Key); err == nil && rec.SHA256 == t.SHA256 && c.opt.Store.HasBlob(ctx, rec.SHA256) {
		return rec, nil
	}
	if !c.opt.Store.HasBlob(ctx, t.SHA256) {
		st, err := c.opt.Store.Stage(ctx, t.Max)
		if err != nil {
			return storage.FileRecord{}, err
		}
		defer st.Abort()
		if _, err := st.ReadFrom(bytes.NewReader(meta)); err != nil {
			return storage.FileRecord{}, err
		}
		if err := st.Commit(ctx, t.SHA256); err != nil {
			return storage.FileRecord{}, err
		}
	}
	return c.record(ctx, t)
}

// WheelMetadata reads a wheel's .dist-info/METADATA, at most max bytes.
// A wheel must have exactly one (pip refuses one with two).
func WheelMetadata(r io.ReaderAt, size, max int64) ([]byte, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoWheelMetadata, err)
	}
	var found *zip.File
	for _, zf := range zr.File {
		dir, name, ok := strings.Cut(zf.Name, "/")
		if !ok || name != "METADATA" || !strings.HasSuffix(dir, ".dist-info") {
			continue
		}
		if found != nil {
			return nil, ErrNoWheelMetadata
		}
		found = zf
	}
	if found == nil {
		return nil, ErrNoWheelMetadata
	}
	if found.UncompressedSize64 > uint64(max) {
		return nil, fmt.Errorf("%w: METADATA is larger than %d bytes", ErrUpstreamTooLarge, max)
	}
	rc, err := found.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoWheelMetadata, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, max+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoWheelMetadata, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: METADATA is larger than %d bytes", ErrUpstreamTooLarge, max)
	}
	return b, nil
}
