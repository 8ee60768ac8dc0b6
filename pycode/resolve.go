package pycode

import (
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
)

// builtinNames resolve to "builtins.<name>" unless the module rebinds them.
var builtinNames = map[string]bool{"exec": true, "eval": true, "compile": true, "__import__": true, "getattr": true,
	"open": true, "globals": true, "vars": true, "locals": true, "chr": true, "bytes": true, "bytearray": true, "str": true}

// starExports are the names a `from M import *` brings that matter here.
var starExports = map[string][]string{
	"subprocess": {"Popen", "run", "call", "check_call", "check_output", "getoutput", "getstatusoutput"},
	"os":         {"system", "popen", "environ", "execv", "execvp", "spawnv", "posix_spawn"},
	"base64":     {"b64decode", "b32decode", "b16decode", "a85decode", "b85decode", "decodebytes", "urlsafe_b64decode"},
	"zlib":       {"decompress"},
	"marshal":    {"loads"},
	"pickle":     {"loads"},
	"codecs":     {"decode"},
	"binascii":   {"unhexlify", "a2b_base64", "a2b_hex"},
}

// resolve returns the dotted name an expression stands for — "os.system",
// "builtins.exec", "subprocess" — seeing through aliases, getattr with a
// computable name, __import__ and importlib.import_module, globals() and
// vars() look-ups, __dict__ and __builtins__; "" when it is not a name.
func (a *analyzer) resolve(n *node) string {
	return a.resolveDepth(n, 0)
}

func (a *analyzer) resolveDepth(n *node, depth int) string {
	if n == nil || depth > 8 {
		return ""
	}
	switch n.Kind() {
	case "identifier":
		name := a.text(n)
		if r, ok := a.aliases[name]; ok {
			return r
		}
		if name == "__builtins__" || name == "builtins" {
			return "builtins"
		}
		if builtinNames[name] {
			return "builtins." + name
		}
		for mod := range a.star {
			for _, e := range starExports[mod] {
				if e == name {
					return mod + "." + name
				}
			}
		}
		return ""
	case "attribute":
		obj := a.resolveDepth(n.ChildByFieldName("object"), depth+1)
		attr := n.ChildByFieldName("attribute")
		if obj == "" || attr == nil {
			return ""
		}
		name := a.text(attr)
		if name == "__dict__" {
			return obj
		}
		if name == "__builtins__" {
			return "builtins"
		}
		return obj + "." + name
	case "parenthesized_expression":
		if n.NamedChildCount() == 1 {
			return a.resolveDepth(n.NamedChild(0), depth+1)
		}
	case "call":
		fn := a.resolveDepth(n.ChildByFieldName("function"), depth+1)
		args := argList(n)
		switch fn {
		case "builtins.getattr":
			if len(args) >= 2 {
				obj := a.resolveDepth(args[0], depth+1)
				name, ok := a.constString(args[1])
				if obj != "" && ok {
					if obj == "builtins" || strings.HasSuffix(obj, ".__builtins__") {
						return "builtins." + name
					}
					return obj + "." + name
				}
			}
		case "builtins.__import__", "importlib.import_module", "importlib.__import__":
			if len(args) >= 1 {
				if name, ok := a.constString(args[0]); ok {
					return name
				}
			}
		case "builtins.vars":
			if len(args) == 1 {
				return a.resolveDepth(args[0], depth+1) // vars(mod)[k] is mod.k
			}
		}
		// A look-up by a constant key: builtins.__dict__.get('exec'),
		// sys.modules.get('subprocess').
		if obj, ok := strings.CutSuffix(fn, ".get"); ok && len(args) >= 1 {
			if name, ok := a.constString(args[0]); ok {
				return member(obj, name)
			}
		}
	case "subscript":
		value := n.ChildByFieldName("value")
		key, ok := a.constString(n.ChildByFieldName("subscript"))
		if value == nil || !ok {
			return ""
		}
		if value.Kind() == "call" {
			switch a.resolveDepth(value.ChildByFieldName("function"), depth+1) {
			case "builtins.globals", "builtins.locals":
				if key == "__builtins__" {
					return "builtins"
				}
				if r, ok := a.aliases[key]; ok {
					return r
				}
				if builtinNames[key] {
					return "builtins." + key
				}
				return ""
			}
		}
		if obj := a.resolveDepth(value, depth+1); obj != "" {
			return member(obj, key)
		}
	}
	return ""
}

// argList returns a call's positional arguments.
func argList(call *node) []*node {
	args := call.ChildByFieldName("arguments")
	if args == nil {
		return nil
	}
	if args.Kind() == "generator_expression" { // f(x for x in y): the one argument
		return []*node{args}
	}
	var out []*node
	for i := uint(0); i < args.NamedChildCount(); i++ {
		c := args.NamedChild(i)
		if c.Kind() != "keyword_argument" && c.Kind() != "comment" {
			out = append(out, c)
		}
	}
	return out
}

// constString folds an expression to a constant string when it can: string
// literals (implicitly concatenated too), +, reversal and slices, str.join
// of constants, chr() of integers, bytes of integer lists, simple str
// methods, and decodings of constants (rot13, hex, base64), and names bound
// to such constants.
func (a *analyzer) constString(n *node) (string, bool) {
	return a.constDepth(n, 0)
}

func (a *analyzer) constDepth(n *node, depth int) (string, bool) {
	if n == nil || depth > 16 {
		return "", false
	}
	switch n.Kind() {
	case "string":
		return a.stringLiteral(n)
	case "concatenated_string":
		var b strings.Builder
		for i := uint(0); i < n.NamedChildCount(); i++ {
			s, ok := a.constDepth(n.NamedChild(i), depth+1)
			if !ok {
				return "", false
			}
			b.WriteString(s)
		}
		return b.String(), true
	case "parenthesized_expression":
		if n.NamedChildCount() == 1 {
			return a.constDepth(n.NamedChild(0), depth+1)
		}
	case "identifier":
		s, ok := a.consts[a.text(n)]
		return s, ok
	case "binary_operator":
		if n.op != "+" {
			return "", false
		}
		l, ok1 := a.constDepth(n.ChildByFieldName("left"), depth+1)
		r, ok2 := a.constDepth(n.ChildByFieldName("right"), depth+1)
		return l + r, ok1 && ok2
	case "subscript":
		s, ok := a.constDepth(n.ChildByFieldName("value"), depth+1)
		sub := n.ChildByFieldName("subscript")
		if !ok || sub == nil || sub.Kind() != "slice" {
			return "", false
		}
		return sliceString(s, a.text(sub))
	case "call":
		return a.constCall(n, depth)
	}
	return "", false
}

// constCall folds the calls that build strings.
func (a *analyzer) constCall(n *node, depth int) (string, bool) {
	fn := n.ChildByFieldName("function")
	args := argList(n)
	if fn == nil {
		return "", false
	}
	switch a.resolve(fn) {
	case "builtins.chr":
		if len(args) == 1 {
			if v, err := strconv.ParseInt(a.text(args[0]), 0, 32); err == nil && v >= 0 && v < 0x110000 {
				return string(rune(v)), true
			}
		}
		return "", false
	case "builtins.str":
		if len(args) == 1 {
			return a.constDepth(args[0], depth+1)
		}
	case "codecs.decode", "codecs.encode":
		if len(args) >= 2 {
			s, ok := a.constDepth(args[0], depth+1)
			enc, ok2 := a.constDepth(args[1], depth+1)
			if ok && ok2 {
				return decodeWith(s, enc)
			}
		}
	case "base64.b64decode", "base64.standard_b64decode", "base64.urlsafe_b64decode", "base64.decodebytes",
		"bytes.fromhex", "binascii.unhexlify":
		// Folded only as the object of .decode() below.
	case "builtins.bytes", "builtins.bytearray":
		if len(args) == 1 && args[0].Kind() == "list" {
			var b []byte
			for i := uint(0); i < args[0].NamedChildCount(); i++ {
				v, err := strconv.ParseInt(a.text(args[0].NamedChild(i)), 0, 16)
				if err != nil || v < 0 || v > 255 {
					return "", false
				}
				b = append(b, byte(v))
			}
			return string(b), true
		}
	}
	if fn.Kind() != "attribute" {
		return "", false
	}
	obj, attr := fn.ChildByFieldName("object"), fn.ChildByFieldName("attribute")
	if obj == nil || attr == nil {
		return "", false
	}
	method := a.text(attr)
	if method == "decode" || method == "encode" {
		// base64.b64decode('...').decode(), bytes.fromhex('...').decode(),
		// 'abc'.encode('rot13')-style codec tricks.
		if obj.Kind() == "call" {
			inner := a.resolve(obj.ChildByFieldName("function"))
			innerArgs := argList(obj)
			if len(innerArgs) >= 1 {
				if s, ok := a.constDepth(innerArgs[0], depth+1); ok {
					switch inner {
					case "base64.b64decode", "base64.standard_b64decode", "base64.decodebytes":
						return decodeWith(s, "base64")
					case "base64.urlsafe_b64decode":
						b, err := base64.URLEncoding.DecodeString(s)
						return string(b), err == nil
					case "bytes.fromhex", "builtins.bytes.fromhex", "binascii.unhexlify":
						return decodeWith(s, "hex")
					}
				}
			}
		}
		s, ok := a.constDepth(obj, depth+1)
		if !ok {
			return "", false
		}
		if len(args) >= 1 {
			if enc, ok := a.constDepth(args[0], depth+1); ok {
				return decodeWith(s, enc)
			}
		}
		return s, true
	}
	s, ok := a.constDepth(obj, depth+1)
	if !ok {
		return "", false
	}
	switch method {
	case "lower":
		return strings.ToLower(s), true
	case "upper":
		return strings.ToUpper(s), true
	case "strip":
		return strings.TrimSpace(s), true
	case "replace":
		if len(args) == 2 {
			old, ok1 := a.constDepth(args[0], depth+1)
			nw, ok2 := a.constDepth(args[1], depth+1)
			if ok1 && ok2 {
				return strings.ReplaceAll(s, old, nw), true
			}
		}
	case "join":
		if len(args) == 1 {
			return a.joinConst(s, args[0], depth)
		}
	}
	return "", false
}

// joinConst folds sep.join([...]) of constants, and ”.join(chr(x) for x in
// [ints]) / ”.join(map(chr, [ints])).
func (a *analyzer) joinConst(sep string, arg *node, depth int) (string, bool) {
	switch arg.Kind() {
	case "list", "tuple":
		var parts []string
		for i := uint(0); i < arg.NamedChildCount(); i++ {
			s, ok := a.constDepth(arg.NamedChild(i), depth+1)
			if !ok {
				return "", false
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, sep), true
	case "generator_expression", "list_comprehension":
		// chr(x) for x in [104, 105]
		body := arg.ChildByFieldName("body")
		var clause *node
		for i := uint(0); i < arg.NamedChildCount(); i++ {
			if c := arg.NamedChild(i); c.Kind() == "for_in_clause" {
				clause = c
			}
		}
		if body == nil || clause == nil || body.Kind() != "call" || a.resolve(body.ChildByFieldName("function")) != "builtins.chr" {
			return "", false
		}
		return a.chrList(sep, clause.ChildByFieldName("right"))
	case "call":
		// map(chr, [104, 105])
		if a.text(arg.ChildByFieldName("function")) == "map" {
			args := argList(arg)
			if len(args) == 2 && a.resolve(args[0]) == "builtins.chr" {
				return a.chrList(sep, args[1])
			}
		}
	}
	return "", false
}

func (a *analyzer) chrList(sep string, list *node) (string, bool) {
	if list == nil || (list.Kind() != "list" && list.Kind() != "tuple") {
		return "", false
	}
	var parts []string
	for i := uint(0); i < list.NamedChildCount(); i++ {
		v, err := strconv.ParseInt(a.text(list.NamedChild(i)), 0, 32)
		if err != nil || v < 0 || v >= 0x110000 {
			return "", false
		}
		parts = append(parts, string(rune(v)))
	}
	return strings.Join(parts, sep), true
}

// stringLiteral reads a plain string literal (no f-string interpolation).
func (a *analyzer) stringLiteral(n *node) (string, bool) {
	var b strings.Builder
	for _, c := range n.children {
		switch c.Kind() {
		case "string_start":
			prefix := strings.ToLower(strings.TrimRight(a.text(c), "'\""))
			if strings.Contains(prefix, "f") {
				return "", false
			}
		case "string_content":
			// Escape sequences are their own nodes (none in raw strings).
			b.WriteString(a.text(c))
		case "escape_sequence":
			if s, err := strconv.Unquote(`"` + a.text(c) + `"`); err == nil {
				b.WriteString(s)
			} else {
				b.WriteString(a.text(c))
			}
		case "interpolation":
			return "", false
		}
	}
	return b.String(), true
}

// sliceString applies a constant slice such as [::-1] or [2:5].
func sliceString(s, slice string) (string, bool) {
	parts := strings.Split(strings.Trim(slice, "[] "), ":")
	if len(parts) < 2 || len(parts) > 3 {
		return "", false
	}
	num := func(p string, def int) (int, bool) {
		p = strings.TrimSpace(p)
		if p == "" {
			return def, true
		}
		v, err := strconv.Atoi(p)
		return v, err == nil
	}
	r := []rune(s)
	step := 1
	if len(parts) == 3 {
		var ok bool
		if step, ok = num(parts[2], 1); !ok || step == 0 {
			return "", false
		}
	}
	if step < 0 && strings.TrimSpace(parts[0]) == "" && strings.TrimSpace(parts[1]) == "" {
		var out []rune
		for i := len(r) - 1; i >= 0; i += step {
			out = append(out, r[i])
		}
		return string(out), true
	}
	if step < 0 {
		return "", false
	}
	lo, ok1 := num(parts[0], 0)
	hi, ok2 := num(parts[1], len(r))
	if !ok1 || !ok2 {
		return "", false
	}
	if lo < 0 {
		lo += len(r)
	}
	if hi < 0 {
		hi += len(r)
	}
	lo, hi = max(0, min(lo, len(r))), max(0, min(hi, len(r)))
	if lo > hi {
		return "", true
	}
	var out []rune
	for i := lo; i < hi; i += step {
		out = append(out, r[i])
	}
	return string(out), true
}

// decodeWith applies a codec to a constant.
func decodeWith(s, codec string) (string, bool) {
	switch strings.ToLower(strings.ReplaceAll(codec, "-", "_")) {
	case "rot13", "rot_13":
		return rot13(s), true
	case "hex", "hex_codec":
		b, err := hex.DecodeString(s)
		return string(b), err == nil
	case "base64", "base64_codec", "base_64":
		b, err := base64.StdEncoding.DecodeString(s)
		return string(b), err == nil
	case "utf8", "utf_8", "ascii", "latin1", "latin_1":
		return s, true
	}
	return "", false
}

func rot13(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return 'a' + (r-'a'+13)%26
		case r >= 'A' && r <= 'Z':
			return 'A' + (r-'A'+13)%26
		}
		return r
	}, s)
}

// member is what obj[key] (or obj.get(key)) names: a builtin, a module
// sys.modules holds, or an attribute.
func member(obj, key string) string {
	switch obj {
	case "builtins":
		return "builtins." + key
	case "sys.modules":
		return key // sys.modules['subprocess'] is the subprocess module
	}
	return obj + "." + key
}
