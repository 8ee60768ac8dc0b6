package pycode

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	sitter "github.com/tree-sitter/go-tree-sitter"
)

// The tree parse builds in one C call must be the tree go-tree-sitter's
// own API gives, node for node: the C side declares tree-sitter's types
// itself, and a mismatch (a field, an operator, a depth bound, a node
// inside a hidden one) would change what the analysis sees.
func TestParseMatchesGoTreeSitter(t *testing.T) {
	sources := map[string][]byte{
		"empty":       nil,
		"operators":   []byte("x = a + b or c and not d\ny = a < b <= c is not d\nz = -a ** 2 // 3 @ m\nw |= 1\n"),
		"broken":      []byte("def f(:\n    exec(base64.b64decode('eA=='))\n  return ))\nclass\n"),
		"deep":        []byte("x = " + strings.Repeat("(", 700) + "1" + strings.Repeat(")", 700) + "\n"),
		"deep-lists":  []byte("x = " + strings.Repeat("[", 600) + strings.Repeat("]", 600) + "\n"),
		"unicode":     []byte("π = 'é'  # ☃\ndef 函数(ä=1): return f'{ä!r:>{10}}'\n"),
		"decorators":  []byte("@a.b(c=1)\n@d\nclass C(B, metaclass=M):\n    @property\n    def p(self): return [i for i in range(3) if i]\n"),
		"match":       []byte("match x:\n    case [1, *rest] if rest: pass\n    case {'k': v}: pass\n    case P(a=1): pass\n"),
		"async":       []byte("async def f():\n    async with a as b, c:\n        await g(*x, **y)\n    async for i in z: yield i\n"),
		"crlf":        []byte("import os\r\nos.system('id')\r\n"),
		"nul":         []byte("x = 1\x00\nexec(y)\n"),
		"strings":     []byte("s = r'\\n' b'\\x00' f\"{a}{{b}}\" '''\nmulti\n'''\nt = 'a' 'b'\n"),
		"lambda-gen":  []byte("f = lambda *a, k=1, **kw: (x for x in a)\ng = {k: v for k, v in d.items()}\n"),
		"import-from": []byte("from ..a.b import (c as d, e)\nimport f.g as h\nfrom . import *\n"),
	}
	out, err := exec.Command("python3", "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])").Output()
	if err != nil {
		t.Fatalf("finding Python's standard library (python3 is installed by scripts/test.sh): %v", err)
	}
	lib := strings.TrimSpace(string(out))
	for _, rel := range []string{"argparse.py", "_pydecimal.py", "typing.py", "inspect.py", "dataclasses.py", "email/_header_value_parser.py",
		"asyncio/base_events.py", "re/_parser.py", "tkinter/__init__.py", "lib2to3/tests/data/py3_test_grammar.py"} {
		b, err := os.ReadFile(filepath.Join(lib, rel))
		if err != nil {
			if rel == "lib2to3/tests/data/py3_test_grammar.py" {
				continue // gone from newer Pythons
			}
			t.Fatal(err)
		}
		sources[rel] = b
	}
	for name, src := range sources {
		got := parse(src)
		want := referenceTree(t, src)
		if got == nil || want == nil {
			t.Fatalf("%s: parse %v, reference %v", name, got != nil, want != nil)
		}
		var g, w strings.Builder
		dumpTree(&g, got, 0)
		dumpTree(&w, want, 0)
		if g.String() != w.String() {
			gl, wl := strings.Split(g.String(), "\n"), strings.Split(w.String(), "\n")
			for i := range min(len(gl), len(wl)) {
				if gl[i] != wl[i] {
					t.Errorf("%s: node %d differs:\n got  %s\n want %s", name, i, gl[i], wl[i])
					break
				}
			}
			if len(gl) != len(wl) {
				t.Errorf("%s: %d nodes, want %d", name, len(gl), len(wl))
			}
		}
	}
}

func dumpTree(b *strings.Builder, n *node, depth int) {
	parent := -1
	if n.parent != nil {
		parent = int(n.parent.start)
	}
	fmt.Fprintf(b, "%d %s %q %d-%d row%d op%q parent@%d\n", depth, n.kind, n.field, n.start, n.end, n.row, n.op, parent)
	for _, c := range n.children {
		if c.parent != n {
			fmt.Fprintf(b, "! child of another parent\n")
		}
		dumpTree(b, c, depth+1)
	}
}

func referenceTree(t *testing.T, src []byte) *node {
	p := sitter.NewParser()
	defer p.Close()
	if err := p.SetLanguage(language()); err != nil {
		t.Fatal(err)
	}
	tree := p.Parse(src, nil)
	if tree == nil {
		return nil
	}
	defer tree.Close()
	return copyTree(tree, src)
}

// copyTree is the walk through go-tree-sitter's API that parse replaced
// (a cgo crossing per node): the reference.
func copyTree(tree *sitter.Tree, src []byte) *node {
	lines := lineStarts(src)
	var visit func(tn *sitter.Node, parent *node, field string, depth int) *node
	visit = func(tn *sitter.Node, parent *node, field string, depth int) *node {
		start, end := uint32(tn.StartByte()), uint32(tn.EndByte())
		n := &node{kind: kindName(tn.KindId()), field: field, start: start, end: end, row: rowOf(lines, start), parent: parent}
		if depth >= maxDepth {
			return n
		}
		count := tn.NamedChildCount()
		if count > 0 {
			n.children = make([]*node, 0, count)
		}
		fields := fieldParents[n.kind]
		for i := uint(0); i < count; i++ {
			c := tn.NamedChild(i)
			if c == nil {
				continue
			}
			f := ""
			if fields {
				f = tn.FieldNameForNamedChild(uint32(i))
			}
			n.children = append(n.children, visit(c, n, f, depth+1))
		}
		switch n.kind {
		case "binary_operator", "boolean_operator":
			if op := tn.ChildByFieldName("operator"); op != nil {
				n.op = string(src[op.StartByte():op.EndByte()])
			}
		case "comparison_operator":
			if len(n.children) == 2 {
				n.op = strings.TrimSpace(string(src[n.children[0].end:n.children[1].start]))
			}
		}
		return n
	}
	root := tree.RootNode()
	return visit(root, nil, "", 0)
}
