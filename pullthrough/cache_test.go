package pullthrough

import (
	"fmt"
	"testing"

	"airlock/index"
	"airlock/storage"
)

func entryOf(name string, files int) *Entry {
	p := index.Page{Name: name, Files: make([]index.File, files)}
	return newEntry(storage.CachedPage{Page: p})
}

// TestPageCacheBoundedByBytes: the cache keeps the pages that fit its byte
// budget, evicting the least recently used; a page bigger than the budget
// is not kept at all.
func TestPageCacheBoundedByBytes(t *testing.T) {
	per := pageSize(entryOf("x", 1000))
	c := newPageCache(3 * per)
	for i := 0; i < 3; i++ {
		c.put(entryOf(fmt.Sprint("p", i), 1000))
	}
	c.get("p0") // p1 is now the least recently used
	c.put(entryOf("p3", 1000))
	if c.get("p1") != nil || c.get("p0") == nil || c.get("p3") == nil {
		t.Error("did not evict the least recently used page")
	}
	if c.Bytes() > 3*per {
		t.Errorf("cache holds %d bytes, budget %d", c.Bytes(), 3*per)
	}
	c.put(entryOf("huge", 10_000))
	if c.get("huge") != nil || c.Bytes() > 3*per {
		t.Errorf("a page over the budget was kept (%d bytes)", c.Bytes())
	}
	c.put(entryOf("p0", 2000)) // replacing an entry frees its old size
	if c.Bytes() > 3*per {
		t.Errorf("after replacing: %d bytes", c.Bytes())
	}
}
