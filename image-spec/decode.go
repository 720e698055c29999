package imagespec

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/minikit/minikit/internal/textdist"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// maxDepth bounds how deep aliases and nesting may go, so that a file whose
// anchors refer to themselves is an error instead of an endless loop.
const maxDepth = 64

// decoder walks the YAML syntax tree by hand rather than unmarshalling into
// structs: that way every node keeps its line and column, and a mistake is
// recorded and skipped so that one run reports all of them.
type decoder struct {
	*problems
	file    string
	anchors map[string]ast.Node
	depth   int
	aliases int // aliases followed so far, bounded by maxAliases
}

// exhausted reports whether the file used up its aliases; what is read
// after that is not what was written, so it is not checked further.
func (d *decoder) exhausted() bool { return d.aliases > maxAliases }

// maxAliases bounds how many aliases one file may expand to. Aliases and
// merge keys that refer to each other grow exponentially ("billion
// laughs"); a real spec uses a handful.
const maxAliases = 10000

func newDecoder(file string, p *problems) *decoder {
	return &decoder{problems: p, file: file, anchors: map[string]ast.Node{}}
}

// parseYAML parses data into the body of its single document. A nil body
// with no error means the document is empty.
func (d *decoder) parseYAML(data []byte) (body ast.Node, ok bool) {
	if line, col, deep := tooDeep(data); deep {
		d.errorf(position{d.file, line, col}, "", "brackets nested more than %d deep", maxFlowDepth)
		return nil, false
	}
	f, err := safeParse(data)
	if err != nil {
		if fixed, lines := indentStrayComments(data); len(lines) > 0 {
			if f2, err2 := safeParse(fixed); err2 == nil {
				for _, l := range lines {
					d.warnf(position{d.file, l, 1}, "", "a comment at column 0 inside a block scalar ends it in YAML (LinuxKit rejects this file); minikit reads the line as part of the text")
				}
				f, err = f2, nil
			}
		}
	}
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil && ye.GetToken().Position != nil {
			tp := ye.GetToken().Position
			d.errorf(position{d.file, tp.Line, tp.Column}, "", "invalid YAML: %s", ye.GetMessage())
		} else {
			d.errorf(position{file: d.file}, "", "invalid YAML: %v", err)
		}
		return nil, false
	}
	var docs []*ast.DocumentNode
	for _, doc := range f.Docs {
		if doc != nil && doc.Body != nil {
			docs = append(docs, doc)
		}
	}
	if len(docs) == 0 {
		return nil, true
	}
	if len(docs) > 1 {
		d.errorf(d.firstKeyPos(docs[1].Body), "", "a second YAML document (one spec a file; give several files to merge them)")
	}
	return docs[0].Body, true
}

// indentStrayComments indents each comment line that starts at column 0
// but sits between more-indented lines, to the indentation of the line
// after it. Some LinuxKit examples comment out a line of a "|" block this
// way; YAML ends the block there and the file does not parse. Indented,
// the line stays in the text, where the file it becomes (resolv.conf,
// say) reads it as a comment, which is what its author meant. Line
// numbers are kept. It returns the fixed data and the lines it changed.
func indentStrayComments(data []byte) ([]byte, []int) {
	lines := bytes.Split(data, []byte("\n"))
	indent := func(l []byte) int { return len(l) - len(bytes.TrimLeft(l, " ")) }
	var changed []int
	for i, l := range lines {
		if !bytes.HasPrefix(l, []byte("#")) || i == 0 {
			continue
		}
		prev, next := -1, -1
		for j := i - 1; j >= 0; j-- {
			if len(bytes.TrimSpace(lines[j])) > 0 && !bytes.HasPrefix(lines[j], []byte("#")) {
				prev = indent(lines[j])
				break
			}
		}
		for j := i + 1; j < len(lines); j++ {
			if len(bytes.TrimSpace(lines[j])) > 0 && !bytes.HasPrefix(lines[j], []byte("#")) {
				next = indent(lines[j])
				break
			}
		}
		if prev > 0 && next > 0 {
			lines[i] = append(bytes.Repeat([]byte(" "), next), l...)
			changed = append(changed, i+1)
		}
	}
	return bytes.Join(lines, []byte("\n")), changed
}

// maxFlowDepth bounds the nesting of [ and { in a file. The parser takes
// time quadratic in that depth (a line of 100,000 "[" takes most of a
// minute), and no spec needs more than a few levels.
const maxFlowDepth = 1000

// tooDeep finds where [ and { first nest deeper than maxFlowDepth, outside
// quotes and comments. It only looks at brackets, so it is a bound, not a
// parser: brackets in block scalars count too.
func tooDeep(data []byte) (line, col int, deep bool) {
	depth, line, col := 0, 1, 0
	var quote byte
	comment := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		col++
		switch {
		case c == '\n':
			line, col, comment = line+1, 0, false
			if quote == '"' || quote == '\'' {
				continue // quoted strings may span lines
			}
		case comment:
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
				col++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '#':
			comment = i == 0 || data[i-1] == ' ' || data[i-1] == '\t' || data[i-1] == '\n'
		case c == '[' || c == '{':
			if depth++; depth > maxFlowDepth {
				return line, col, true
			}
		case c == ']' || c == '}':
			depth = max(depth-1, 0)
		}
	}
	return 0, 0, false
}

// safeParse runs the YAML parser and turns a panic inside it into an
// error: a malformed file must be reported, never crash the build.
// Duplicate keys are let through here and reported by the decoder along
// with every other mistake.
func safeParse(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("the YAML parser failed: %v", r)
		}
	}()
	return parser.ParseBytes(data, 0, parser.AllowDuplicateMapKey())
}

// pos is where a node was written.
func (d *decoder) pos(n ast.Node) position {
	if n != nil {
		if tk := n.GetToken(); tk != nil && tk.Position != nil {
			return position{d.file, tk.Position.Line, tk.Position.Column}
		}
	}
	return position{file: d.file}
}

// firstKeyPos is where a mapping's first key was written (the mapping
// node itself reports its first ':'), without reporting any problem.
func (d *decoder) firstKeyPos(n ast.Node) position {
	quiet := &decoder{problems: &problems{}, file: d.file, anchors: d.anchors}
	r, _ := quiet.resolve(n, "")
	switch t := r.(type) {
	case *ast.MappingNode:
		if len(t.Values) > 0 {
			return d.pos(t.Values[0].Key)
		}
	case *ast.MappingValueNode:
		return d.pos(t.Key)
	}
	return d.pos(n)
}

// registerAnchors records the anchors under a node that is not decoded
// (an unknown key, trust), so that aliases to them still resolve.
func (d *decoder) registerAnchors(n ast.Node) {
	ast.Walk(anchorVisitor{d}, n)
}

type anchorVisitor struct{ d *decoder }

func (v anchorVisitor) Visit(n ast.Node) ast.Visitor {
	if a, ok := n.(*ast.AnchorNode); ok && a.Name != nil && a.Name.GetToken() != nil {
		v.d.anchors[a.Name.GetToken().Value] = a.Value
	}
	return v
}

// resolve follows anchors, aliases and tags to the node that holds the
// value. tag is the explicit tag, if any, so that !!str can be honoured.
func (d *decoder) resolve(n ast.Node, path string) (_ ast.Node, tag string) {
	for range maxDepth {
		switch t := n.(type) {
		case *ast.AnchorNode:
			d.anchors[t.Name.GetToken().Value] = t.Value
			n = t.Value
		case *ast.AliasNode:
			if d.aliases++; d.aliases > maxAliases {
				if d.aliases == maxAliases+1 {
					d.errorf(d.pos(n), path, "aliases expand to more than %d values (anchors that refer to each other grow exponentially)", maxAliases)
				}
				return nil, ""
			}
			name := t.Value.GetToken().Value
			target, ok := d.anchors[name]
			if !ok {
				d.errorf(d.pos(n), path, "alias *%s refers to no anchor &%s defined before it", name, name)
				return nil, ""
			}
			n = target
		case *ast.TagNode:
			tag = t.Start.Value
			n = t.Value
		default:
			return n, tag
		}
	}
	d.errorf(d.pos(n), path, "aliases nested more than %d deep", maxDepth)
	return nil, ""
}

// describe names the kind of a node for "expected X, found Y" messages.
func describe(n ast.Node) string {
	switch n.(type) {
	case *ast.StringNode, *ast.LiteralNode:
		return "a string"
	case *ast.IntegerNode, *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a number"
	case *ast.BoolNode:
		return "true/false"
	case *ast.NullNode:
		return "nothing"
	case *ast.SequenceNode:
		return "a list"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case nil:
		return "nothing"
	}
	return "a " + n.Type().String()
}

// scalar is a resolved scalar: its text as written (unquoted) and whether
// YAML reads it as a string.
type scalar struct {
	text     string
	isString bool
	node     ast.Node
}

func (d *decoder) scalar(n ast.Node, path string) (scalar, bool) {
	r, tag := d.resolve(n, path)
	if r == nil {
		return scalar{}, false
	}
	switch t := r.(type) {
	case *ast.StringNode:
		return scalar{t.Value, true, r}, true
	case *ast.LiteralNode:
		return scalar{t.Value.Value, true, r}, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return scalar{r.GetToken().Value, tag == "!!str", r}, true
	case *ast.NullNode:
		return scalar{"", false, r}, true
	}
	d.errorf(d.pos(r), path, "expected a single value, found %s", describe(r))
	return scalar{}, false
}

// str reads a string. Numbers and booleans are refused, as LinuxKit's
// schema refuses them, with a hint to quote them.
func (d *decoder) str(n ast.Node, path string) (string, bool) {
	s, ok := d.scalar(n, path)
	if !ok {
		return "", false
	}
	if !s.isString {
		r, _ := d.resolve(n, path)
		if _, null := r.(*ast.NullNode); null {
			d.errorf(d.pos(s.node), path, "expected a string, found nothing")
		} else {
			d.errorf(d.pos(s.node), path, "expected a string, found %s (quote it: %q)", describe(r), s.text)
		}
		return "", false
	}
	return s.text, true
}

// boolean reads true or false.
func (d *decoder) boolean(n ast.Node, path string) (*bool, bool) {
	r, tag := d.resolve(n, path)
	if b, ok := r.(*ast.BoolNode); ok && tag == "" {
		v := b.Value
		return &v, true
	}
	if r != nil {
		d.errorf(d.pos(r), path, "expected true or false, found %s", describe(r))
	}
	return nil, false
}

// integer reads a whole number within [lo, hi].
func (d *decoder) integer(n ast.Node, path string, lo, hi int64) (int64, bool) {
	r, tag := d.resolve(n, path)
	if r == nil {
		return 0, false
	}
	in, ok := r.(*ast.IntegerNode)
	if !ok || tag == "!!str" {
		d.errorf(d.pos(r), path, "expected a whole number, found %s", describe(r))
		return 0, false
	}
	var v int64
	switch x := in.Value.(type) {
	case int64:
		v = x
	case uint64:
		if x > math.MaxInt64 {
			d.errorf(d.pos(r), path, "%s is too large (at most %d)", in.GetToken().Value, hi)
			return 0, false
		}
		v = int64(x)
	default:
		d.errorf(d.pos(r), path, "expected a whole number, found %q", in.GetToken().Value)
		return 0, false
	}
	if v < lo || v > hi {
		d.errorf(d.pos(r), path, "%d is out of range (%d to %d)", v, lo, hi)
		return 0, false
	}
	return v, true
}

// list reads a sequence, returning its items. A list is never nil when ok,
// so that "given but empty" differs from "not given".
func (d *decoder) list(n ast.Node, path string, what string) ([]ast.Node, bool) {
	r, _ := d.resolve(n, path)
	if r == nil {
		return nil, false
	}
	seq, ok := r.(*ast.SequenceNode)
	if !ok {
		hint := ""
		if _, isStr := r.(*ast.StringNode); isStr {
			hint = " (write a one-item list as [\"…\"] or \"- …\")"
		}
		d.errorf(d.pos(r), path, "expected a list of %s, found %s%s", what, describe(r), hint)
		return nil, false
	}
	items := make([]ast.Node, len(seq.Values))
	copy(items, seq.Values)
	return items, true
}

// strs reads a list of strings; check, if given, reports what is wrong
// with an item.
func (d *decoder) strs(n ast.Node, path string, check func(s string, at position, path string) bool) []string {
	items, ok := d.list(n, path, "strings")
	if !ok {
		return nil
	}
	// Every item keeps its place, even a wrong one, so that the field
	// paths of later checks (binds[3]) still match what was written.
	out := make([]string, len(items))
	for i, item := range items {
		p := index(path, i)
		s, ok := d.str(item, p)
		if !ok {
			continue
		}
		if check != nil {
			check(s, d.pos(item), p)
		}
		out[i] = s
	}
	return out
}

// entry is one key of a mapping.
type entry struct {
	key   string
	keyAt position
	value ast.Node
}

// mapping reads a mapping's entries in order, expanding "<<" merge keys and
// reporting duplicate keys.
func (d *decoder) mapping(n ast.Node, path string) ([]entry, bool) {
	d.depth++
	defer func() { d.depth-- }()
	if d.exhausted() {
		return nil, false
	}
	if d.depth > maxDepth {
		d.errorf(d.pos(n), path, "nested more than %d deep", maxDepth)
		return nil, false
	}
	r, _ := d.resolve(n, path)
	if r == nil {
		return nil, false
	}
	var values []*ast.MappingValueNode
	switch t := r.(type) {
	case *ast.MappingNode:
		values = t.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{t}
	default:
		d.errorf(d.pos(r), path, "expected a mapping of keys to values, found %s", describe(r))
		return nil, false
	}
	var out []entry
	seen := map[string]position{}
	var merges []ast.Node
	for _, mv := range values {
		if _, merge := mv.Key.(*ast.MergeKeyNode); merge {
			merges = append(merges, mv.Value)
			continue
		}
		key, ok := d.scalar(mv.Key, path)
		if !ok {
			continue
		}
		at := d.pos(mv.Key)
		if first, dup := seen[key.text]; dup {
			d.errorf(at, join(path, key.text), "duplicate key (first given at line %d)", first.line)
			continue
		}
		seen[key.text] = at
		out = append(out, entry{key.text, at, mv.Value})
	}
	// Keys written in the mapping win over merged ones, wherever the "<<"
	// stands.
	for _, m := range merges {
		out = append(out, d.merge(m, path, seen)...)
	}
	return out, !d.exhausted()
}

// merge expands a "<<: *anchor" (or a list of them): keys already present
// in the mapping win, as YAML specifies.
func (d *decoder) merge(n ast.Node, path string, seen map[string]position) []entry {
	r, _ := d.resolve(n, path)
	sources := []ast.Node{r}
	if seq, ok := r.(*ast.SequenceNode); ok {
		sources = seq.Values
	}
	var out []entry
	for _, src := range sources {
		entries, ok := d.mapping(src, path)
		if !ok {
			continue
		}
		for _, e := range entries {
			if _, dup := seen[e.key]; dup {
				continue
			}
			seen[e.key] = e.keyAt
			out = append(out, e)
		}
	}
	return out
}

// fields maps each allowed key of an object to what reads its value; the
// second argument is the value's field path.
type fields map[string]func(n ast.Node, path string)

// object reads a mapping whose keys are fixed, reporting unknown keys with
// the nearest allowed one. It returns where each given key was written.
func (d *decoder) object(n ast.Node, path string, fs fields) (map[string]position, bool) {
	entries, ok := d.mapping(n, path)
	if !ok {
		return nil, false
	}
	given := map[string]position{}
	for _, e := range entries {
		read, known := fs[e.key]
		if !known {
			d.errorf(e.keyAt, join(path, e.key), "unknown key (%s)", suggest(e.key, keysOf(fs)))
			d.registerAnchors(e.value)
			continue
		}
		given[e.key] = e.keyAt
		read(d.nullAtKey(e), join(path, e.key))
	}
	return given, true
}

// nullAtKey makes a null value point at its key: for a value left empty
// ("cwd:" with nothing after it) the parser places it past the end of the
// line, where no one would look.
func (d *decoder) nullAtKey(e entry) ast.Node {
	if null, ok := e.value.(*ast.NullNode); ok && null.GetToken() != nil && null.GetToken().Position != nil {
		tk := *null.GetToken()
		pos := *tk.Position
		pos.Line, pos.Column = e.keyAt.line, e.keyAt.col
		tk.Position = &pos
		return &ast.NullNode{BaseNode: &ast.BaseNode{}, Token: &tk}
	}
	return e.value
}

// strMap reads a mapping of strings to strings; check, if given, validates
// each pair.
func (d *decoder) strMap(n ast.Node, path string, check func(k, v string, at position, path string) bool) map[string]string {
	entries, ok := d.mapping(n, path)
	if !ok {
		return nil
	}
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		p := join(path, e.key)
		if strings.ContainsAny(e.key, ". ") {
			p = path + "[" + e.key + "]"
		}
		v, ok := d.str(e.value, p)
		if !ok {
			continue
		}
		if check != nil && !check(e.key, v, e.keyAt, p) {
			continue
		}
		out[e.key] = v
	}
	return out
}

func keysOf(fs fields) []string {
	keys := make([]string, 0, len(fs))
	for k := range fs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// suggest says which keys are allowed, leading with the closest one when
// the unknown key looks like a typo of it.
func suggest(got string, allowed []string) string {
	best := ""
	if c := textdist.Closest(got, allowed, 1); len(c) > 0 {
		best = c[0]
	}
	list := "allowed: " + strings.Join(allowed, ", ")
	if best != "" {
		return fmt.Sprintf("did you mean %q? %s", best, list)
	}
	return list
}

// isNull reports whether a node is an explicit or implicit null.
func (d *decoder) isNull(n ast.Node) bool {
	r, _ := d.resolve(n, "")
	_, null := r.(*ast.NullNode)
	return n == nil || null
}

// quoteList formats allowed values for messages: "a, b or c".
func quoteList(vals ...string) string {
	switch len(vals) {
	case 0:
		return ""
	case 1:
		return vals[0]
	}
	return strings.Join(vals[:len(vals)-1], ", ") + " or " + vals[len(vals)-1]
}

// parseOctal reads an octal mode such as "0644" or "755".
func parseOctal(s string, max uint64) (uint64, bool) {
	if s == "" || strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		return 0, false
	}
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0o"), 8, 32)
	return v, err == nil && v <= max
}
