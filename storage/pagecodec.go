package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"airlock/index"
)

// A project page can list 200,000 files (78 MB of JSON). encoding/json
// builds a whole document in memory before writing it, and reads a whole
// one before decoding it, so a page is written and read here one file at a
// time: its files stream through the compressor, everything else goes
// through encoding/json as usual.

// filesKey is where the file list sits in the marshalled page with no
// files. It cannot occur inside a JSON string (the quotes would be escaped),
// so its first occurrence is the key.
var filesKey = []byte(`"files":null`)

// writePage writes cp as JSON to w.
func writePage(w io.Writer, cp CachedPage) error {
	files := cp.Page.Files
	cp.Page.Files = nil
	head, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	i := bytes.Index(head, filesKey)
	if i < 0 {
		return errors.New("storage: page encoding has no file list")
	}
	if _, err := io.WriteString(w, string(head[:i])+`"files":[`); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	for n, f := range files {
		if n > 0 {
			if _, err := io.WriteString(w, ","); err != nil {
				return err
			}
		}
		if err := enc.Encode(f); err != nil { // its newline is whitespace
			return err
		}
	}
	_, err = io.WriteString(w, "]"+string(head[i+len(filesKey):]))
	return err
}

// readPage reads what writePage wrote (or any JSON of a CachedPage).
func readPage(r io.Reader) (CachedPage, error) {
	var cp CachedPage
	dec := json.NewDecoder(r)
	var files []index.File
	err := readObject(dec, &cp, func(key string) (bool, error) {
		if key != "page" {
			return false, nil
		}
		return true, readObject(dec, &cp.Page, func(key string) (bool, error) {
			if key != "files" {
				return false, nil
			}
			return true, readFiles(dec, &files)
		})
	})
	if err != nil {
		return CachedPage{}, err
	}
	if files != nil {
		cp.Page.Files = files
	}
	return cp, nil
}

// readObject decodes a JSON object into v, letting special take over the
// value of any key it claims; the other keys are decoded as usual.
func readObject(dec *json.Decoder, v any, special func(key string) (bool, error)) error {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("expected an object: %v", err)
	}
	rest := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		claimed, err := special(key)
		if err != nil {
			return err
		}
		if claimed {
			continue
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		rest[key] = raw
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	b, err := json.Marshal(rest)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func readFiles(dec *json.Decoder, files *[]index.File) error {
	tok, err := dec.Token()
	if err != nil || tok == nil {
		return err
	}
	if tok != json.Delim('[') {
		return errors.New("files is not a list")
	}
	for dec.More() {
		var f index.File
		if err := dec.Decode(&f); err != nil {
			return err
		}
		*files = append(*files, f)
	}
	*files = index.ClipFiles(*files)
	_, err = dec.Token()
	return err
}
