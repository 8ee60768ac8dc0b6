package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// lockDir takes the data directory of a PostgreSQL replica for this
// process, as bbolt's file lock does for the embedded store: staged
// downloads and the blob cache are one process's, and start-up clears
// them. Replicas on one machine each need a directory of their own.
func lockDir(dir string, timeout time.Duration) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "airlock.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, fmt.Errorf("storage: %s: %w", dir, ErrInUse)
			}
			return nil, fmt.Errorf("storage: lock %s: %w", dir, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
