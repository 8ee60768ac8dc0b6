package pycode

/*
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

// tree-sitter's C API (api.h of the tree-sitter go-tree-sitter v0.25.0
// links in; its types are ABI-stable and tree_test.go checks this walk
// against go-tree-sitter's own on real Python).
typedef struct TSTree TSTree;
typedef struct TSParser TSParser;
typedef struct TSLanguage TSLanguage;
typedef struct { uint32_t context[4]; const void *id; const TSTree *tree; } TSNode;
typedef struct { const void *tree; const void *id; uint32_t context[3]; } TSTreeCursor;
TSParser *ts_parser_new(void);
void ts_parser_delete(TSParser *self);
bool ts_parser_set_language(TSParser *self, const TSLanguage *language);
TSTree *ts_parser_parse_string(TSParser *self, const TSTree *old_tree, const char *string, uint32_t length);
void ts_tree_delete(TSTree *self);
TSNode ts_tree_root_node(const TSTree *self);
TSTreeCursor ts_tree_cursor_new(TSNode node);
void ts_tree_cursor_delete(TSTreeCursor *self);
bool ts_tree_cursor_goto_first_child(TSTreeCursor *self);
bool ts_tree_cursor_goto_next_sibling(TSTreeCursor *self);
bool ts_tree_cursor_goto_parent(TSTreeCursor *self);
TSNode ts_tree_cursor_current_node(const TSTreeCursor *self);
uint16_t ts_tree_cursor_current_field_id(const TSTreeCursor *self);
bool ts_node_is_named(TSNode self);
uint16_t ts_node_symbol(TSNode self);
uint32_t ts_node_start_byte(TSNode self);
uint32_t ts_node_end_byte(TSNode self);

// pc_node is one named node, in preorder; op is the range of its child in
// the operator field (op_start == UINT32_MAX: none).
typedef struct {
	uint32_t start, end, op_start, op_end;
	int32_t parent;
	uint16_t symbol, field;
} pc_node;

static int pc_add(pc_node **nodes, size_t *len, size_t *cap, TSNode n, int32_t parent, uint16_t field) {
	if (*len == *cap) {
		size_t c = *cap ? *cap * 2 : 1024;
		pc_node *grown = realloc(*nodes, c * sizeof(pc_node));
		if (!grown) return -1;
		*nodes = grown;
		*cap = c;
	}
	pc_node *p = &(*nodes)[*len];
	p->start = ts_node_start_byte(n);
	p->end = ts_node_end_byte(n);
	p->op_start = UINT32_MAX;
	p->op_end = 0;
	p->parent = parent;
	p->symbol = ts_node_symbol(n);
	p->field = field;
	return (int)(*len)++;
}

// pc_parse parses src and copies its named nodes, at most max_depth below
// the root, in one call: walking the tree from Go costs a cgo crossing per
// node. The caller frees *out. Returns the number of nodes, -1 on failure.
static long pc_parse(const TSLanguage *lang, const char *src, uint32_t len, uint16_t op_field, int max_depth, pc_node **out) {
	*out = NULL;
	TSParser *parser = ts_parser_new();
	if (!ts_parser_set_language(parser, lang)) {
		ts_parser_delete(parser);
		return -1;
	}
	TSTree *tree = ts_parser_parse_string(parser, NULL, src, len);
	ts_parser_delete(parser);
	if (!tree) return -1;
	pc_node *nodes = NULL;
	size_t n = 0, cap = 0;
	int32_t *parents = malloc((max_depth + 1) * sizeof(int32_t));
	TSNode root = ts_tree_root_node(tree);
	TSTreeCursor c = ts_tree_cursor_new(root);
	long result = -1;
	if (!parents || pc_add(&nodes, &n, &cap, root, -1, 0) < 0) goto done;
	parents[0] = 0;
	if (max_depth > 0 && ts_tree_cursor_goto_first_child(&c)) {
		int d = 1;
		for (;;) {
			TSNode cur = ts_tree_cursor_current_node(&c);
			int32_t parent = parents[d - 1];
			uint16_t field = ts_tree_cursor_current_field_id(&c);
			if (ts_node_is_named(cur)) {
				int idx = pc_add(&nodes, &n, &cap, cur, parent, field);
				if (idx < 0) goto done;
				parents[d] = idx;
				if (d < max_depth && ts_tree_cursor_goto_first_child(&c)) {
					d++;
					continue;
				}
			} else if (field != 0 && field == op_field && nodes[parent].op_start == UINT32_MAX) {
				nodes[parent].op_start = ts_node_start_byte(cur);
				nodes[parent].op_end = ts_node_end_byte(cur);
			}
			while (!ts_tree_cursor_goto_next_sibling(&c)) {
				if (!ts_tree_cursor_goto_parent(&c) || --d == 0) goto walked;
			}
		}
	}
walked:
	result = (long)n;
	*out = nodes;
	nodes = NULL;
done:
	free(nodes);
	free(parents);
	ts_tree_cursor_delete(&c);
	ts_tree_delete(tree);
	return result;
}
*/
import "C"

import (
	"strings"
	"unsafe"
)

// parse parses src and returns its syntax tree (named nodes only), or nil
// when tree-sitter could not. Source that does not parse cleanly comes
// back as far as the parser recovered, with ERROR nodes.
func parse(src []byte) *node {
	language()
	var raw *C.pc_node
	var p *C.char
	if len(src) > 0 {
		p = (*C.char)(unsafe.Pointer(&src[0]))
	}
	n := C.pc_parse((*C.TSLanguage)(unsafe.Pointer(lang.Inner)), p, C.uint32_t(len(src)), C.uint16_t(operatorField), C.int(maxDepth), &raw)
	if n < 0 {
		return nil
	}
	defer C.free(unsafe.Pointer(raw))
	flat := unsafe.Slice(raw, int(n))
	return buildTree(flat, src)
}

// buildTree links the flat preorder copy into nodes: one allocation for
// the nodes, one for every child list.
func buildTree(flat []C.pc_node, src []byte) *node {
	lines := lineStarts(src)
	nodes := make([]node, len(flat))
	counts := make([]int32, len(flat))
	for i := 1; i < len(flat); i++ {
		counts[flat[i].parent]++
	}
	links := make([]*node, len(flat))
	off := 0
	for i := range flat {
		nodes[i].children = links[off : off : off+int(counts[i])]
		off += int(counts[i])
	}
	for i := range flat {
		f := &flat[i]
		n := &nodes[i]
		n.kind = kindName(uint16(f.symbol))
		n.start, n.end = uint32(f.start), uint32(f.end)
		n.row = rowOf(lines, n.start)
		if f.parent >= 0 {
			parent := &nodes[f.parent]
			n.parent = parent
			if fieldParents[parent.kind] && int(f.field) < len(fieldName) {
				n.field = fieldName[f.field]
			}
			parent.children = append(parent.children, n)
		}
	}
	for i := range flat {
		n := &nodes[i]
		switch n.kind {
		case "binary_operator", "boolean_operator":
			if f := &flat[i]; uint32(f.op_start) != ^uint32(0) {
				n.op = string(src[f.op_start:f.op_end])
			}
		case "comparison_operator":
			if len(n.children) == 2 {
				n.op = strings.TrimSpace(string(src[n.children[0].end:n.children[1].start]))
			}
		}
	}
	return &nodes[0]
}
