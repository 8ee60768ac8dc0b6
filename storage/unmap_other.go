//go:build !linux

package storage

func releaseMapped([]byte) {}

func releaseMap(uintptr, int64) {}
