package pycode

/*
#include <stddef.h>
// From tree-sitter's api.h (linked in by go-tree-sitter).
void ts_set_allocator(void *(*new_malloc)(size_t), void *(*new_calloc)(size_t, size_t),
	void *(*new_realloc)(void *, size_t), void (*new_free)(void *));
*/
import "C"

// go-tree-sitter routes every allocation the parser makes through Go
// (C calls Go calls C: two cgo crossings per malloc and free), which was a
// quarter of a parse. Its default is plain C malloc behind those
// crossings, so handing tree-sitter back its own default (malloc that
// aborts when memory runs out) shares the same heap: memory allocated
// before this runs is freed correctly after it. Runs after
// go-tree-sitter's init, which imports first.
func init() { C.ts_set_allocator(nil, nil, nil, nil) }
