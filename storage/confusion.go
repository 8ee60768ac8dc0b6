package storage

import (
	"context"
	"encoding/json"
	"errors"

	"time"
)

// bucketConfusions holds, by project, the privately owned names that the
// public upstream lists too (dependency confusion).
var bucketConfusions = []byte("confusions")

// Confusion is a name a private index owns and the public upstream lists.
type Confusion struct {
	Project        string    `json:"project"`
	Index          string    `json:"index"`
	PublicVersions []string  `json:"public_versions"`
	FirstSeen      time.Time `json:"first_seen"`
	LastSeen       time.Time `json:"last_seen"`
}

// PutConfusion records a sighting; first reports whether it is new.
func (s *Store) PutConfusion(ctx context.Context, c Confusion) (first bool, err error) {
	err = full(s.db.Update(ctx, func(tx kvTx) error {
		b := tx.Bucket(bucketConfusions)
		c.FirstSeen = c.LastSeen
		if old := b.Get([]byte(c.Project)); old != nil {
			var prev Confusion
			if err := json.Unmarshal(old, &prev); err == nil && !prev.FirstSeen.IsZero() {
				c.FirstSeen = prev.FirstSeen
			}
		} else {
			first = true
		}
		v, err := json.Marshal(c)
		if err != nil {
			return err
		}
		return b.Put([]byte(c.Project), v)
	}))
	return first, err
}

// Confusions lists every recorded confusion, by project.
func (s *Store) Confusions(ctx context.Context) ([]Confusion, error) {
	var out []Confusion
	err := s.db.View(ctx, func(tx kvTx) error {
		b := tx.Bucket(bucketConfusions)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var c Confusion
			if err := json.Unmarshal(v, &c); err != nil {
				return errors.New("storage: corrupt confusion record")
			}
			out = append(out, c)
			return nil
		})
	})
	return out, err
}
