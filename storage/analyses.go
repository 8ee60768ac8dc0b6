package storage

import (
	"context"
	"slices"
	"sort"
)

// Analyses are what analysing one source file found (bucket "analyses"),
// by a key the caller makes from the file's content hash, its module name
// and the rules' version: most files of a new release are byte-identical
// to the previous release's, and are then not parsed again, across
// releases and restarts. The values are opaque here.
var bucketAnalyses = []byte("analyses")

// GetAnalysis returns the analysis stored under key, or ErrNotFound.
func (s *Store) GetAnalysis(ctx context.Context, key string) ([]byte, error) {
	var out []byte
	err := s.db.Get(ctx, bucketAnalyses, []byte(key), func(v []byte) error {
		if v == nil {
			return ErrNotFound
		}
		out = slices.Clone(v) // bbolt's bytes live only inside the transaction
		return nil
	})
	return out, err
}

// PutAnalyses stores analyses, in one transaction.
func (s *Store) PutAnalyses(ctx context.Context, m map[string][]byte) error {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // in key order: B-tree friendly, and the same on every run
	return full(s.db.Update(ctx, func(tx kvTx) error {
		b := tx.Bucket(bucketAnalyses)
		for _, k := range keys {
			if err := b.Put([]byte(k), m[k]); err != nil {
				return err
			}
		}
		return nil
	}))
}
