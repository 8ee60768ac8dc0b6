package upstream

import "io"

// readerFromFunc adapts a function to io.ReaderFrom for Download.
type readerFromFunc func(r interface{ Read([]byte) (int, error) }) error

func (f readerFromFunc) ReadFrom(r io.Reader) (int64, error) { return 0, f(r) }
