package index

import (
	"iter"
	"strings"

	"airlock/textsafe"
)

// View is a page as a client is shown it: each file as listed, yanked
// with a reason, or left out, and the versions offered. It marks the
// page's files instead of copying them (a page can list 200,000), so the
// page must not change while the view is used.
type View struct {
	Page     *Page
	Versions []string
	// WheelMetadata offers PEP 658 metadata for every wheel, also where
	// the upstream publishes none (the proxy extracts it from the
	// verified wheel): those are rendered as "true", with no hash.
	WheelMetadata bool
	marks         []uint32 // per file: 0 as listed, 1 left out, k >= 2 yanked with reasons[k-2]
	reasons       []string
	reasonID      map[string]uint32
}

const (
	markListed uint32 = iota
	markHidden
	markFirstReason
)

// ViewOf shows every file of p as listed.
func ViewOf(p *Page) *View { return &View{Page: p, Versions: p.Versions} }

func (v *View) mark(i int, m uint32) {
	if v.marks == nil {
		v.marks = make([]uint32, len(v.Page.Files))
	}
	v.marks[i] = m
}

// Hide leaves the i-th file out.
func (v *View) Hide(i int) { v.mark(i, markHidden) }

// Yank shows the i-th file yanked with reason; a reason the upstream gave
// for yanking it follows.
func (v *View) Yank(i int, reason string) {
	id, ok := v.reasonID[reason]
	if !ok {
		if v.reasonID == nil {
			v.reasonID = map[string]uint32{}
		}
		id = markFirstReason + uint32(len(v.reasons))
		v.reasons = append(v.reasons, reason)
		v.reasonID[reason] = id
	}
	v.mark(i, id)
}

// Files yields the files shown, in the page's order.
func (v *View) Files() iter.Seq[File] {
	return func(yield func(File) bool) {
		for i, f := range v.Page.Files {
			if v.marks != nil {
				switch m := v.marks[i]; {
				case m == markHidden:
					continue
				case m >= markFirstReason:
					reason := v.reasons[m-markFirstReason]
					if f.Yanked && f.YankedReason != "" {
						reason += "; yanked upstream: " + f.YankedReason
					}
					f.Yanked, f.YankedReason = true, reason
				}
			}
			if f.MetadataSHA256() == "" {
				// Metadata with no hash cannot be verified: offered only
				// where the proxy makes it from the verified wheel.
				f.CoreMetadata = nil
				if v.WheelMetadata && strings.HasSuffix(f.Filename, ".whl") {
					f.CoreMetadata = &CoreMetadata{}
				}
			}
			// A reason reaches the installer's terminal as it is: ESC from
			// an upstream, or a member name's newline in a hold, must not
			// drive it.
			f.YankedReason = textsafe.Line(f.YankedReason)
			if !yield(f) {
				return
			}
		}
	}
}

// APIVersion is the simple API version a rendered view claims: 1.4 when
// every shown file's size is known (1.1 made size required; 1.3 adds
// provenance and 1.4 project-status, both optional), else 1.0, which
// promises nothing more.
func (v *View) APIVersion() string {
	for f := range v.Files() {
		if f.Size < 0 {
			return "1.0"
		}
	}
	return "1.4"
}
