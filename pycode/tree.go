package pycode

import (
	"sort"
	"sync"

	sitter "github.com/tree-sitter/go-tree-sitter"
	python "github.com/tree-sitter/tree-sitter-python/bindings/go"
)

// node is a syntax tree node copied out of tree-sitter. Every call into
// tree-sitter crosses cgo; the analysis walks the tree many times, so the
// tree is copied once (named nodes only) and walked in Go.
type node struct {
	kind       string
	field      string // this node's field name in its parent, if any
	start, end uint32 // byte offsets
	row        int    // 0-based start line
	op         string // a binary or comparison operator's text
	parent     *node
	children   []*node
}

func (n *node) Kind() string { return n.kind }

// ChildByFieldName returns the first named child in the field, or nil.
func (n *node) ChildByFieldName(field string) *node {
	for _, c := range n.children {
		if c.field == field {
			return c
		}
	}
	return nil
}

func (n *node) NamedChildCount() uint { return uint(len(n.children)) }

func (n *node) NamedChild(i uint) *node { return n.children[i] }

func (n *node) Parent() *node { return n.parent }

var (
	langOnce  sync.Once
	lang      *sitter.Language
	kindNames []string
	kindNamed []bool
	fieldName []string
	// operatorField is the id of the field binary operators keep their
	// operator in.
	operatorField uint16
)

func language() *sitter.Language {
	langOnce.Do(func() {
		lang = sitter.NewLanguage(python.Language())
		kindNames = make([]string, lang.NodeKindCount())
		kindNamed = make([]bool, len(kindNames))
		for id := range kindNames {
			kindNames[id] = lang.NodeKindForId(uint16(id))
			kindNamed[id] = lang.NodeKindIsNamed(uint16(id))
		}
		fieldName = make([]string, lang.FieldCount()+1)
		for id := 1; id < len(fieldName); id++ {
			fieldName[id] = lang.FieldNameForId(uint16(id))
		}
		operatorField = lang.FieldIdForName("operator")
	})
	return lang
}

// fieldParents are the node kinds whose children the analysis finds by
// field name; other nodes' field names are not asked for.
var fieldParents = map[string]bool{"call": true, "attribute": true, "subscript": true, "assignment": true,
	"function_definition": true, "if_statement": true, "import_from_statement": true, "aliased_import": true,
	"binary_operator": true, "generator_expression": true, "list_comprehension": true, "for_in_clause": true,
	"keyword_argument": true, "decorated_definition": true, "class_definition": true, "lambda": true}

// maxDepth bounds the copied tree: deeper nesting is no Python anyone
// writes, and a recursion on hostile input must stop somewhere.
const maxDepth = 500

func kindName(id uint16) string {
	if int(id) < len(kindNames) {
		return kindNames[id]
	}
	return ""
}

func lineStarts(src []byte) []uint32 {
	starts := []uint32{0}
	for i, b := range src {
		if b == '\n' {
			starts = append(starts, uint32(i+1))
		}
	}
	return starts
}

func rowOf(starts []uint32, off uint32) int {
	return sort.Search(len(starts), func(i int) bool { return starts[i] > off }) - 1
}
