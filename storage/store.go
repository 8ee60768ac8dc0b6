// Package storage keeps Airlock's state: verified files in a
// content-addressed blob store and their records (pages, decisions and
// their audit log, caches, the work queue, downloads, sessions). Records
// live in bbolt in the data directory (the embedded default) or in
// PostgreSQL, shared by replicas; blobs in a folder of the data directory
// or an S3-compatible bucket. Consumers declare the methods they use as
// interfaces of their own; every method takes a context. No other package
// knows a path inside the data directory.
//
// Layout of the data directory:
//
//	airlock.db                 bbolt database (locked by the running process)
//	blobs/sha256/ab/abcdef...  verified file contents, named by their sha256
//	tmp/                       downloads in progress; emptied at start-up
//	airlock.lock               held by the process using the directory (PostgreSQL; bbolt locks airlock.db)
//	blob-cache/                verified copies of hot blobs of a bucket (blobs.cache_bytes)
//	tuf/                       the sigstore trust root (TrustRootCache)
//
// Buckets (flat, composite keys, JSON values), in airlock.db or, on
// PostgreSQL, as rows of the kv table (bucket, key, value) with their
// counters in kv_sequences:
//
//	meta   "schema_version" -> big-endian uint64 (the layout's version, schemaVersion)
//	pages  <project>                 -> CachedPage (gzipped JSON; plain JSON from before is read too),
//	                                    or for a page over 1 MiB gzipped a marker: its pieces are in
//	page_chunks <project> 0x00 <big-endian uint32 n> -> piece n of the gzipped page
//	files  <project> 0x00 <filename> -> FileRecord (".metadata" files included)
//	lists  "root" | "index:" <name>  -> CachedList (the public list; each private index's)
//	decisions <sha256>               -> DecisionRecord (gate state per file)
//	states <state> 0x00 <sha256>     -> "" (index of decisions by state)
//	audit  big-endian uint64 seq     -> AuditEvent (append-only)
//	provenance <sha256>              -> ProvenanceRecord (PEP 740, with verification result)
//	signals <source URL or key>      -> SignalDoc (cached signal source responses)
//	inspections <sha256>             -> InspectionRecord (content inspection report)
//	work   <priority byte> <big-endian seq> -> WorkItem (background queue)
//	workkeys <sha256>                -> its key in work
//	downloads <unix nanos> <seq>     -> a batch of DownloadRecords (gzipped JSON)
//	downloads_by_sha <sha256> <batch key> -> ""
//	download_hours "2006010215"      -> full downloads in that hour
//	confusions <project>             -> Confusion (private name listed publicly)
//	sessions <sha256 of the cookie>  -> Session (review sign-ins)
//	throttle <remote> 0x00 <time>    -> "" (failed sign-ins)
//	advisory_sources <source>        -> AdvisorySnapshot (the last good read of an advisory source)
//	advisory_chunks <source> 0x00 <big-endian uint32 n> -> piece n of its records
//
// Nothing here knows about policy or HTTP. No network or file streaming
// happens inside a transaction: blobs are written and synced first, then a
// short transaction records them.
package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"

	"airlock/index"
)

// layoutMigrations take the records' layout (in bbolt, and in the
// PostgreSQL key-value tables alike) from one version to the next, as
// PostgreSQL's schema has its migrations: migration i takes version i+1
// to i+2, in the transaction that writes the new version. Version 1 is
// the first layout; a new one adds a function here.
var layoutMigrations = []func(tx kvTx) error{
	// 1 -> 2: a large page may be stored in pieces (page_chunks, a
	// bucket every store has); version 1's records all read the same.
	func(kvTx) error { return nil },
}

// schemaVersion is the layout this code reads and writes.
var schemaVersion = uint64(1 + len(layoutMigrations))

var (
	bucketMeta  = []byte("meta")
	bucketPages = []byte("pages")
	bucketFiles = []byte("files")
	bucketLists = []byte("lists")
	keySchema   = []byte("schema_version")
	keyRootList = []byte("root")
)

// ErrInUse means another process holds the data directory's database lock.
var ErrInUse = errors.New("data directory in use by another airlock process")

// ErrNotFound is returned when a record does not exist.
var ErrNotFound = errors.New("not found")

// ErrUnavailable means the database or the blob store cannot be reached
// (or is going down): nothing was read or written, and the same request
// may succeed shortly. Clients get a 503.
var ErrUnavailable = errors.New("the store is unavailable")

// Store is the data directory. It is safe for concurrent use.
type Store struct {
	dir   string
	db    kvDB
	bolt  *bbolt.DB // the embedded database; nil on PostgreSQL
	blobs Blobs
	// dirLock holds the data directory on PostgreSQL (bbolt locks its
	// file itself).
	dirLock *os.File
}

// Validators are the HTTP cache validators of an upstream response.
type Validators struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
}

// CachedPage is a project page as last fetched from upstream.
type CachedPage struct {
	Page       index.Page `json:"page"`
	Validators Validators `json:"validators"`
	FetchedAt  time.Time  `json:"fetched_at"` // last fetch or successful revalidation
}

// CachedList is the root project list as last fetched from upstream.
type CachedList struct {
	Names      []string   `json:"names"` // normalized, sorted
	Validators Validators `json:"validators"`
	FetchedAt  time.Time  `json:"fetched_at"`
}

// FileRecord describes one verified, stored file.
type FileRecord struct {
	Project     string    `json:"project"`
	Version     string    `json:"version"`
	Filename    string    `json:"filename"`
	SHA256      string    `json:"sha256"`
	Size        int64     `json:"size"`
	UploadTime  time.Time `json:"upload_time,omitzero"`
	UpstreamURL string    `json:"upstream_url"`
	FetchedAt   time.Time `json:"fetched_at"`
	// Replaces is the sha256 of other bytes stored earlier under the same
	// filename: the upstream reused a filename (PyPI never does).
	Replaces string `json:"replaces,omitempty"`
	// Index names the private index the file came from ("" public).
	Index string `json:"index,omitempty"`
	// RemovedAt is when Airlock found that the upstream no longer lists
	// the file; the bytes are kept for investigation.
	RemovedAt time.Time `json:"removed_at,omitzero"`
}

// Open opens (creating if needed) the data directory. A second process on the
// same directory gets ErrInUse after lockTimeout.
func Open(ctx context.Context, dir string, lockTimeout time.Duration) (*Store, error) {
	return OpenWith(ctx, dir, lockTimeout, nil)
}

// LocalBlobs is the default blob store of a data directory.
func LocalBlobs(dir string) Folder {
	return Folder{Dir: filepath.Join(dir, "blobs"), Tmp: filepath.Join(dir, "tmp")}
}

// OpenWith is Open with another blob store (nil: the data directory's
// folder).
func OpenWith(ctx context.Context, dir string, lockTimeout time.Duration, blobs Blobs) (*Store, error) {
	if blobs == nil {
		blobs = LocalBlobs(dir)
	}
	for _, d := range []string{dir, filepath.Join(dir, "blobs", "sha256"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("storage: %w", err)
		}
	}
	db, err := bbolt.Open(filepath.Join(dir, "airlock.db"), 0o600, &bbolt.Options{Timeout: lockTimeout})
	if err != nil {
		if errors.Is(err, bberrors.ErrTimeout) {
			return nil, fmt.Errorf("storage: %s: %w", dir, ErrInUse)
		}
		return nil, fmt.Errorf("storage: open %s: %w", dir, err)
	}
	s := &Store{dir: dir, db: boltDB{db}, bolt: db, blobs: blobs}
	if err := s.start(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// start checks the schema, then, as the holder of the data directory's
// lock, clears what a process that died left: staged downloads (they may
// belong to a download in progress in another process otherwise) and, on
// bbolt, work claims (on PostgreSQL they run out, as other replicas may
// hold them).
func (s *Store) start(ctx context.Context) error {
	if err := s.init(ctx); err != nil {
		return err
	}
	if s.bolt != nil {
		if err := s.releaseClaims(ctx); err != nil {
			return err
		}
	}
	return s.removeTemps()
}

// allBuckets are every bucket the store uses.
var allBuckets = [][]byte{bucketMeta, bucketPages, bucketPageChunks, bucketFiles, bucketLists, bucketDecisions, bucketAudit, bucketProvenance,
	bucketSignals, bucketInspections, bucketStates, bucketWork, bucketWorkKeys, bucketDownloads, bucketDownloadsBySHA,
	bucketDownloadHours, bucketConfusions, bucketSessions, bucketThrottle, bucketAdvisorySources, bucketAdvisoryChunks, bucketAnalyses}

func (s *Store) init(ctx context.Context) error {
	if s.bolt != nil {
		err := s.bolt.Update(func(tx *bbolt.Tx) error {
			for _, b := range allBuckets {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return s.db.Update(ctx, func(tx kvTx) error {
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keySchema); v != nil {
			got := binary.BigEndian.Uint64(v)
			switch {
			case got == schemaVersion:
				return nil
			case got > schemaVersion:
				return fmt.Errorf("storage: schema version %d was written by a newer airlock; this one reads %d", got, schemaVersion)
			}
			for from := max(got, 1); from < schemaVersion; from++ {
				if err := layoutMigrations[from-1](tx); err != nil {
					return fmt.Errorf("storage: migrating the layout from version %d: %w", from, err)
				}
			}
		}
		return meta.Put(keySchema, binary.BigEndian.AppendUint64(nil, schemaVersion))
	})
}

func (s *Store) removeTemps() error {
	tmp := filepath.Join(s.dir, "tmp")
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(tmp, e.Name())); err != nil {
			return fmt.Errorf("storage: remove leftover temp file: %w", err)
		}
	}
	return nil
}

// Close releases the database and its lock.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.dirLock != nil {
		s.dirLock.Close()
	}
	return err
}

// Ping checks that the database answers (for readiness).
func (s *Store) Ping(ctx context.Context) error {
	return s.db.View(ctx, func(kvTx) error { return nil })
}

func fileKey(project, filename string) []byte {
	return append(append([]byte(project), 0), filename...)
}

// releasePages drops the database's pages from the process's view of its
// memory map after a large page was written: bbolt moves the values that
// share a leaf by reading them through the map, and a few huge pages would
// then stay resident for as long as the process runs.
func (s *Store) releasePages() {
	if s.bolt == nil {
		return
	}
	s.bolt.View(func(tx *bbolt.Tx) error {
		releaseMap(s.bolt.Info().Data, tx.Size())
		return nil
	})
}

// GetList returns the cached root project list, or ErrNotFound.
func (s *Store) GetList(ctx context.Context) (CachedList, error) {
	var cl CachedList
	return cl, s.get(ctx, bucketLists, keyRootList, &cl)
}

// PutList stores the root project list.
func (s *Store) PutList(ctx context.Context, cl CachedList) error {
	return s.put(ctx, bucketLists, keyRootList, cl)
}

// GetFile returns the record of a stored file, or ErrNotFound.
func (s *Store) GetFile(ctx context.Context, project, filename string) (FileRecord, error) {
	var rec FileRecord
	return rec, s.get(ctx, bucketFiles, fileKey(project, filename), &rec)
}

// PutFile records a stored file. Its blob must already be committed.
func (s *Store) PutFile(ctx context.Context, rec FileRecord) error {
	return s.put(ctx, bucketFiles, fileKey(rec.Project, rec.Filename), rec)
}

// Files calls fn for every stored file record.
// ProjectFiles returns a project's file records by filename, read in one
// transaction (a page listing asks about every file).
func (s *Store) ProjectFiles(ctx context.Context, project string) (map[string]FileRecord, error) {
	out := map[string]FileRecord{}
	prefix := fileKey(project, "")
	err := s.db.View(ctx, func(tx kvTx) error {
		c := tx.Bucket(bucketFiles).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var rec FileRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("storage: corrupt file record %q: %w", k, err)
			}
			out[rec.Filename] = rec
		}
		return nil
	})
	return out, err
}

func (s *Store) Files(ctx context.Context, fn func(FileRecord) error) error {
	return s.db.View(ctx, func(tx kvTx) error {
		return tx.Bucket(bucketFiles).ForEach(func(_, v []byte) error {
			var rec FileRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			return fn(rec)
		})
	})
}

func (s *Store) get(ctx context.Context, bucket, key []byte, v any) error {
	return s.db.Get(ctx, bucket, key, func(raw []byte) error {
		if raw == nil {
			return ErrNotFound
		}
		// Unmarshal copies out of bbolt's map before its transaction ends.
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("storage: corrupt record %s/%q: %w", bucket, key, err)
		}
		return nil
	})
}

func (s *Store) put(ctx context.Context, bucket, key []byte, v any) error {
	return full(s.putRaw(ctx, bucket, key, v))
}

func (s *Store) putRaw(ctx context.Context, bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.db.Update(ctx, func(tx kvTx) error {
		return tx.Bucket(bucket).Put(key, raw)
	})
}

func indexListKey(name string) []byte { return []byte("index:" + name) }

// GetIndexList returns the last list read from a private index.
func (s *Store) GetIndexList(ctx context.Context, name string) (CachedList, error) {
	var cl CachedList
	return cl, s.get(ctx, bucketLists, indexListKey(name), &cl)
}

// PutIndexList stores the list read from a private index.
func (s *Store) PutIndexList(ctx context.Context, name string, cl CachedList) error {
	return s.put(ctx, bucketLists, indexListKey(name), cl)
}
