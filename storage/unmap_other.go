//go:build !linux

package storage

const releaseMinBytes = 1 << 20

func releaseMapped([]byte) {}

func releaseMap(uintptr, int64) {}
