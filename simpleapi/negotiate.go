package simpleapi

import (
	"strconv"
	"strings"

	"airlock/index"
)

// offers are the media types Airlock serves, in the order that breaks ties.
// PyPI (warehouse) breaks ties toward text/html, so "*/*" and a missing
// Accept get HTML there; Airlock does the same.
var offers = []string{index.MediaTextHTML, index.MediaHTML, index.MediaJSON}

// aliases are the PEP 691 "latest" types, served as v1.
var aliases = map[string]string{
	"application/vnd.pypi.simple.latest+json": index.MediaJSON,
	"application/vnd.pypi.simple.latest+html": index.MediaHTML,
}

// Negotiate picks the response media type for an Accept header by q-value,
// the most specific matching range deciding each offer's q. With no usable
// match it falls back to text/html, as PyPI does, rather than answering 406.
func Negotiate(accept string) string {
	if strings.TrimSpace(accept) == "" {
		return index.MediaTextHTML
	}
	type rng struct {
		typ, sub string
		q        float64
	}
	var ranges []rng
	for _, part := range strings.Split(accept, ",") {
		fields := strings.Split(part, ";")
		mt := strings.ToLower(strings.TrimSpace(fields[0]))
		if alias, ok := aliases[mt]; ok {
			mt = alias
		}
		typ, sub, ok := strings.Cut(mt, "/")
		if !ok || typ == "" || sub == "" {
			continue
		}
		q := 1.0
		for _, p := range fields[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0 || f > 1 {
					f = 0
				}
				q = f
			}
		}
		ranges = append(ranges, rng{typ, sub, q})
	}
	best, bestQ := index.MediaTextHTML, 0.0
	for _, offer := range offers {
		ot, os, _ := strings.Cut(offer, "/")
		q, spec := 0.0, -1
		for _, r := range ranges {
			s := -1
			switch {
			case r.typ == ot && r.sub == os:
				s = 2
			case r.typ == ot && r.sub == "*":
				s = 1
			case r.typ == "*" && r.sub == "*":
				s = 0
			}
			if s > spec {
				spec, q = s, r.q
			}
		}
		if q > bestQ {
			best, bestQ = offer, q
		}
	}
	return best
}

// contentType is the exact Content-Type header for a negotiated media type.
// uv compares the part before ';' exactly, so it is never omitted.
func contentType(media string) string {
	if media == index.MediaTextHTML {
		return "text/html; charset=utf-8"
	}
	return media
}
