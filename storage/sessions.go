package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// bucketSessions holds review-page sessions by the sha256 of their
// cookie (the database never holds a usable cookie), so that every
// replica knows a person who signed in on another.
var bucketSessions = []byte("sessions")

// Session is a signed-in review-page session.
type Session struct {
	CSRF    string    `json:"csrf"`
	Expires time.Time `json:"expires"`
	// Reviewer is who signed in: the name of their reviewer token, or the
	// name given with the shared admin token.
	Reviewer string `json:"reviewer,omitempty"`
	// OwnToken: signed in with a reviewer's own token.
	OwnToken bool `json:"own_token,omitempty"`
}

func sessionKey(cookie string) []byte {
	sum := sha256.Sum256([]byte(cookie))
	return []byte(hex.EncodeToString(sum[:]))
}

// PutSession records a session, dropping expired ones.
func (s *Store) PutSession(ctx context.Context, cookie string, sess Session, now time.Time) error {
	v, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	return full(s.db.Update(ctx, func(tx kvTx) error {
		b := tx.Bucket(bucketSessions)
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var old Session
			if json.Unmarshal(v, &old) != nil || now.After(old.Expires) {
				if err := c.Delete(); err != nil {
					return err
				}
			}
		}
		return b.Put(sessionKey(cookie), v)
	}))
}

// GetSession returns a live session, or ErrNotFound.
func (s *Store) GetSession(ctx context.Context, cookie string, now time.Time) (Session, error) {
	var sess Session
	err := s.get(ctx, bucketSessions, sessionKey(cookie), &sess)
	if err == nil && now.After(sess.Expires) {
		return Session{}, ErrNotFound
	}
	return sess, err
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, cookie string) error {
	return s.db.Update(ctx, func(tx kvTx) error { return tx.Bucket(bucketSessions).Delete(sessionKey(cookie)) })
}
