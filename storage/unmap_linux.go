package storage

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// releaseMinBytes: smaller values are not worth a system call (the last
// piece of a large page is usually larger).
const releaseMinBytes = 256 << 10

// releaseMapped tells the kernel this process is done with the pages of
// the database's memory map that hold b (a value read in place). bbolt
// reads through a shared, read-only map, so pages once read count in the
// process's resident memory for as long as it runs; a few huge project
// pages would add a hundred megabytes. The data stays in the kernel's page
// cache and is faulted back in if read again.
func releaseMapped(b []byte) {
	if len(b) < releaseMinBytes {
		return
	}
	// Only the pages wholly inside b: its neighbours may be in use.
	page := uintptr(os.Getpagesize())
	addr := uintptr(unsafe.Pointer(&b[0]))
	head := int((page - addr%page) % page)
	tail := int((addr + uintptr(len(b))) % page)
	if head+tail >= len(b) {
		return
	}
	_ = unix.Madvise(b[head:len(b)-tail], unix.MADV_DONTNEED)
}

// releaseMap does the same for the first size bytes of the map at addr
// (a read transaction's size, so never past the map's end).
func releaseMap(addr uintptr, size int64) {
	if addr == 0 || size <= 0 {
		return
	}
	// A raw system call: the address comes from bbolt as a number.
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, addr, uintptr(size), unix.MADV_DONTNEED)
}
