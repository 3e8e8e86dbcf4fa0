package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	goccyyaml "github.com/goccy/go-yaml"
	goccyparser "github.com/goccy/go-yaml/parser"
	"go.yaml.in/yaml/v3"
)

// ConfigError is one problem with a config file. Its Error() reads
// "FILE:LINE: KEY.PATH: message" ("FILE:LINE:COL: invalid YAML: message"
// for a syntax error); File and Line are empty when the problem comes from
// Config.Validate on a Config that was not read from a file, and Path is
// empty for YAML syntax errors.
type ConfigError struct {
	File string
	Line int
	// Col is the column (from 1) of a YAML syntax error; 0 otherwise.
	Col int
	// Path names the key, e.g. rules.access_key_age.human[1].action. Map
	// keys that are not plain identifiers are quoted: tags["a.b"].
	Path string
	Msg  string
}

// Error formats the problem as FILE:LINE: PATH: MSG, leaving out the parts
// that are unknown.
func (e *ConfigError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0 && e.Col > 0:
		fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Col)
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// MaxFileSize is the most of a config that keywarden reads, from a file,
// an SSM parameter or an S3 object: 1 MiB. A real config is a few KiB.
const MaxFileSize = 1 << 20

// Load reads and validates the config file at path. Keys the file leaves
// out take Default()'s values (see Parse for how they merge). Every
// problem found is returned, joined with errors.Join; each is a
// *ConfigError naming the file, line and key.
//
// At most MaxFileSize bytes are read: a bigger file, or an endless one
// such as /dev/zero, is an error.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	data, err := ReadLimited(f)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	return Parse(path, data)
}

// ReadLimited reads r to its end, or to one byte past MaxFileSize, so
// that Parse can refuse a config that is too big without reading all of
// it.
func ReadLimited(r io.Reader) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r, MaxFileSize+1))
}

// Parse decodes and validates a config held in memory; name (usually the
// file name) prefixes every error message.
//
// Decoding is strict: an unknown key or a value of the wrong type is an
// error. The file is laid over Default():
//   - mappings that stand for structs (accounts, rules, notify, …) merge
//     key by key: a key the file leaves out keeps its default;
//   - rules.access_key_age, signing_certificate_age and
//     service_credential_age merge per class: a class given in the file
//     replaces that class's stages (an empty list switches the rule off
//     for the class); classes the file does not mention keep their default
//     stages (defaults for a class that the file's classes no longer
//     define are dropped);
//   - rules.ssh_key_age, absent by default, takes max_age 90 when the file
//     gives it without one;
//   - lists (classes, exemptions, email_tags, allowed_domains, …) replace
//     the default list when present;
//   - a null value (`key:` with nothing after it, or `~`) counts as absent.
//
// A stage without a severity gets medium (notify) or high (disable,
// delete).
//
// Input is bounded: more than MaxFileSize bytes is an error, and so are
// aliases and merge keys that would expand the document by more than
// maxAliasNodes nodes (a "billion laughs" file).
func Parse(name string, data []byte) (*Config, error) {
	if len(data) > MaxFileSize {
		return nil, errors.Join(&ConfigError{File: name,
			Msg: fmt.Sprintf("the config is larger than 1 MiB (%d bytes), the most keywarden reads; a keywarden config is a few KiB", MaxFileSize)})
	}
	root, perr := parseYAML(name, data)
	if perr != nil {
		return nil, errors.Join(perr)
	}
	cfg := Default()
	cfg.Version = 0 // a file must say which version it is written for
	d := &decoder{file: name}
	if root != nil {
		d.decode(root, reflect.ValueOf(cfg).Elem(), nil, root.Line, 0)
	}
	dropOrphanStages(cfg, root)
	fillSeverities(cfg)
	fillSSHKeyMaxAge(cfg, root)

	errs := d.errs
	for _, e := range cfg.problems() {
		if underAny(e.Path, d.errs) || underAny(e.Path, d.meant) {
			continue // already reported as a decoding error
		}
		e.File = name
		e.Line = lineOf(root, e.Path)
		errs = append(errs, e)
	}
	if len(errs) == 0 {
		return cfg, nil
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return nil, errors.Join(all...)
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML reads exactly one YAML document and returns its root node,
// nil for an empty file.
func parseYAML(name string, data []byte) (*yaml.Node, *ConfigError) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(name, data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &ConfigError{File: name, Line: extra.Line,
			Msg: "more than one YAML document; keywarden reads one (remove the extra ---)"}
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxError(name, data, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind == yaml.AliasNode && root.Alias != nil {
		root = root.Alias
	}
	if isNull(root) {
		return nil, nil
	}
	if at := overExpanded(root); at != nil {
		return nil, &ConfigError{File: name, Line: at.Line,
			Msg: fmt.Sprintf(`YAML aliases and merge keys (<<) here expand to more than %d nodes beyond the file's own (a "billion laughs" file?); write the repeated parts out instead`, maxAliasNodes)}
	}
	if root.Kind != yaml.MappingNode {
		return nil, &ConfigError{File: name, Line: root.Line,
			Msg: fmt.Sprintf("the config must be a mapping of keys (version, rules, …), got %s", describe(root))}
	}
	return root, nil
}

// maxAliasNodes is how many nodes aliases (*name) and merge keys (<<)
// may add to a document beyond the nodes written in it. keywarden walks
// the document as expanded (every alias as a copy of its anchor), so a
// few hundred bytes of nested aliases could otherwise stand for billions
// of nodes. Ordinary use — an anchor reused a few times — adds hundreds.
const maxAliasNodes = 100_000

// overExpanded returns nil when root, with every alias counted as a copy
// of its anchor, has at most maxAliasNodes more nodes than it has written
// out; otherwise the first node, bottom up, whose expansion passes that
// bound (its line is where the repeats are). It counts each anchor once
// and memoizes, so it takes time linear in the written nodes.
func overExpanded(root *yaml.Node) *yaml.Node {
	written := 0
	var count func(n *yaml.Node)
	count = func(n *yaml.Node) {
		written++
		for _, c := range n.Content {
			count(c)
		}
	}
	count(root)
	limit := written + maxAliasNodes
	const busy = -1
	size := map[*yaml.Node]int{}
	var over *yaml.Node
	var expand func(n *yaml.Node) int
	expand = func(n *yaml.Node) int {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		switch s, seen := size[n]; {
		case seen && s == busy:
			return limit + 1 // an anchor inside itself expands without end
		case seen:
			return s
		}
		size[n] = busy
		s := 1
		for _, c := range n.Content {
			if s += expand(c); s > limit {
				s = limit + 1
				break
			}
		}
		size[n] = s
		if s > limit && over == nil {
			over = n
		}
		return s
	}
	expand(root)
	return over
}

// syntaxError turns the YAML parser's error into a ConfigError at the
// spot the document goes wrong.
//
// go.yaml.in/yaml/v3 reports the line where the enclosing construct
// started (its context mark), not where the problem is — for a problem
// anywhere in a top-level mapping, the line before the first key (a
// comment, in the starter file) — and that line counted from 0 for parser
// errors; it never gives a column. So the problem is located again with
// github.com/goccy/go-yaml's parser, whose errors carry the line and
// column of the token where the document stops being YAML; yaml.v3 stays
// the parser that reads the config, and its message is kept. When the
// second parser does not fail (the two differ on rare edge cases), the
// line is yaml.v3's, corrected to count from 1, with no column.
func syntaxError(name string, data []byte, err error) *ConfigError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if isParserMsg(msg) {
			line++ // a parser error's mark counts lines from 0
		}
	}
	ce := &ConfigError{File: name, Line: line, Msg: "invalid YAML: " + msg}
	if l, c, ok := locateSyntaxError(data); ok {
		ce.Line, ce.Col = l, c
	}
	return ce
}

// parserMsgs are the problems yaml.v3's parser (not its scanner)
// reports: their line counts from 0.
var parserMsgs = []string{
	"did not find expected",
	"found duplicate %TAG directive",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found undefined tag handle",
}

func isParserMsg(msg string) bool {
	for _, s := range parserMsgs {
		if strings.HasPrefix(msg, s) {
			return true
		}
	}
	return false
}

// locateSyntaxError parses data with goccy/go-yaml and returns the line
// and column (from 1) of the token its parser stopped at.
//
// That parser takes time quadratic in the document's nesting depth (a
// megabyte of "[" would take many minutes), so it is not asked about a
// document nested deeper than maxLocateDepth (an estimate: indentation,
// "- " and open brackets; a config nests about 6 deep), and it gets
// locateBudget: a document that fools the estimate (brackets in quotes)
// is given up on then, with yaml.v3's line. (The abandoned parse runs on
// until it ends; the command that asked exits with the error.)
func locateSyntaxError(data []byte) (line, col int, ok bool) {
	if nestingEstimate(data) > maxLocateDepth {
		return 0, 0, false
	}
	type result struct{ line, col int }
	done := make(chan result, 1)
	go func() {
		var r result
		_, err := goccyparser.ParseBytes(data, 0)
		var se *goccyyaml.SyntaxError
		if err != nil && errors.As(err, &se) && se.Token != nil && se.Token.Position != nil &&
			se.Token.Position.Line > 0 && se.Token.Position.Column > 0 {
			r = result{se.Token.Position.Line, se.Token.Position.Column}
		}
		done <- r
	}()
	select {
	case r := <-done:
		return r.line, r.col, r.line > 0
	case <-time.After(locateBudget):
		return 0, 0, false
	}
}

const (
	maxLocateDepth = 200
	locateBudget   = 2 * time.Second
)

// nestingEstimate is a quick estimate of how deep data nests: the most,
// over its lines, of the indentation and leading "- " plus the brackets
// open (ignoring quotes, so "[" in a string counts as open).
func nestingEstimate(data []byte) int {
	most, flow := 0, 0
	for _, line := range bytes.Split(data, []byte("\n")) {
		lead := 0
		for lead < len(line) && (line[lead] == ' ' || line[lead] == '-') {
			lead++
		}
		for _, c := range line[lead:] {
			switch c {
			case '[', '{':
				flow++
			case ']', '}':
				flow = max(flow-1, 0)
			}
			most = max(most, lead+flow)
		}
		most = max(most, lead+flow)
	}
	return most
}

// underAny reports whether path is one of the errors' paths or lies
// below one of them.
func underAny(path string, errs []*ConfigError) bool {
	for _, e := range errs {
		if e.Path == "" {
			continue
		}
		if path == e.Path || strings.HasPrefix(path, e.Path+".") || strings.HasPrefix(path, e.Path+"[") {
			return true
		}
	}
	return false
}

// dropOrphanStages removes default stages (access_key_age,
// signing_certificate_age, service_credential_age) of classes the file's
// classes no longer define, so replacing the classes list does not leave
// the defaults pointing at a class that is gone.
func dropOrphanStages(cfg *Config, root *yaml.Node) {
	defined := map[string]bool{DefaultClass: true}
	for _, c := range cfg.Classes {
		defined[c.Name] = true
	}
	for _, sr := range cfg.Rules.stageRules() {
		inFile := map[string]bool{}
		if n := nodeAt(root, keyPath{{key: "rules"}, {key: sr.key}}); n != nil && n.Kind == yaml.MappingNode {
			for _, kv := range pairs(n, nil) {
				inFile[kv.k.Value] = true
			}
		}
		for class := range sr.stages {
			if !defined[class] && !inFile[class] {
				delete(sr.stages, class)
			}
		}
	}
}

// fillSeverities gives stages without a severity the one their action
// implies: high for disable and delete, medium for notify.
func fillSeverities(cfg *Config) {
	for _, sr := range cfg.Rules.stageRules() {
		for _, stages := range sr.stages {
			for i := range stages {
				if stages[i].Severity != "" {
					continue
				}
				stages[i].Severity = SeverityMedium
				if stages[i].Action == ActionDisable || stages[i].Action == ActionDelete {
					stages[i].Severity = SeverityHigh
				}
			}
		}
	}
}

// fillSSHKeyMaxAge gives ssh_key_age, when the file turns it on without a
// max_age, DefaultSSHKeyMaxAge. (The rule has no default: absent, it is
// off; an explicit max_age: 0 is left for Validate to refuse.)
func fillSSHKeyMaxAge(cfg *Config, root *yaml.Node) {
	r := cfg.Rules.SSHKeyAge
	if n := nodeAt(root, keyPath{{key: "rules"}, {key: "ssh_key_age"}, {key: "max_age"}}); r == nil || n != nil && !isNull(n) {
		return
	}
	r.MaxAge = DefaultSSHKeyMaxAge
}

// ---- paths ----

// segment is one step of a key path: a mapping key or a list index.
type segment struct {
	key   string
	index int
	isIdx bool
}

// keyPath is a key path such as rules.access_key_age.human[1].action.
type keyPath []segment

func (p keyPath) key(k string) keyPath {
	q := make(keyPath, len(p), len(p)+1)
	copy(q, p)
	return append(q, segment{key: k})
}

func (p keyPath) idx(i int) keyPath {
	q := make(keyPath, len(p), len(p)+1)
	copy(q, p)
	return append(q, segment{index: i, isIdx: true})
}

var plainKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

func (p keyPath) String() string {
	var b strings.Builder
	for i, s := range p {
		switch {
		case s.isIdx:
			fmt.Fprintf(&b, "[%d]", s.index)
		case plainKeyRE.MatchString(s.key):
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.key)
		default:
			b.WriteString("[" + strconv.Quote(s.key) + "]")
		}
	}
	return b.String()
}

// parseKeyPath is the inverse of keyPath.String.
func parseKeyPath(s string) (keyPath, bool) {
	var p keyPath
	for s != "" {
		switch {
		case s[0] == '.':
			s = s[1:]
		case strings.HasPrefix(s, `["`):
			q, err := strconv.QuotedPrefix(s[1:])
			if err != nil || !strings.HasPrefix(s[1+len(q):], "]") {
				return nil, false
			}
			k, _ := strconv.Unquote(q)
			p = append(p, segment{key: k})
			s = s[1+len(q)+1:]
		case s[0] == '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return nil, false
			}
			i, err := strconv.Atoi(s[1:end])
			if err != nil {
				return nil, false
			}
			p = append(p, segment{index: i, isIdx: true})
			s = s[end+1:]
		default:
			end := strings.IndexAny(s, ".[")
			if end < 0 {
				end = len(s)
			}
			p = append(p, segment{key: s[:end]})
			s = s[end:]
		}
	}
	return p, true
}

// lineOf is the line of the key (or list item) that path names in the
// file, or of its nearest ancestor present in the file; 0 without a file.
func lineOf(root *yaml.Node, path string) int {
	if root == nil {
		return 0
	}
	p, ok := parseKeyPath(path)
	if !ok {
		return root.Line
	}
	line := root.Line
	cur := root
	for _, s := range p {
		cur = deref(cur)
		if s.isIdx {
			if cur.Kind != yaml.SequenceNode || s.index >= len(cur.Content) {
				break
			}
			cur = cur.Content[s.index]
			line = cur.Line
			continue
		}
		if cur.Kind != yaml.MappingNode {
			break
		}
		kv, found := findKey(cur, s.key)
		if !found {
			break
		}
		line = kv.k.Line
		cur = kv.v
	}
	return line
}

// nodeAt returns the node at path, or nil.
func nodeAt(root *yaml.Node, p keyPath) *yaml.Node {
	cur := root
	for _, s := range p {
		if cur == nil {
			return nil
		}
		cur = deref(cur)
		if s.isIdx {
			if cur.Kind != yaml.SequenceNode || s.index >= len(cur.Content) {
				return nil
			}
			cur = cur.Content[s.index]
			continue
		}
		if cur.Kind != yaml.MappingNode {
			return nil
		}
		kv, found := findKey(cur, s.key)
		if !found {
			return nil
		}
		cur = kv.v
	}
	if cur != nil {
		cur = deref(cur)
	}
	return cur
}

func findKey(m *yaml.Node, key string) (pair, bool) {
	var last pair
	found := false
	for _, kv := range pairs(m, nil) {
		if kv.k.Value == key {
			last, found = kv, true
		}
	}
	return last, found
}

// ---- YAML nodes ----

// pair is one key: value of a mapping; merged is set for pairs that
// come from a merge key (<<).
type pair struct {
	k, v   *yaml.Node
	merged bool
}

// pairs lists a mapping's pairs, pairs brought in by merge keys (<<)
// first so the mapping's own keys override them. bad, when not nil, is
// called with every merge value that is not a mapping (or list of them).
func pairs(m *yaml.Node, bad func(*yaml.Node)) []pair {
	var merged, own []pair
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			src := deref(v)
			var srcs []*yaml.Node
			switch src.Kind {
			case yaml.MappingNode:
				srcs = []*yaml.Node{src}
			case yaml.SequenceNode:
				// Earlier mappings take precedence: add them last.
				for j := len(src.Content) - 1; j >= 0; j-- {
					srcs = append(srcs, deref(src.Content[j]))
				}
			}
			for _, s := range srcs {
				if s.Kind != yaml.MappingNode {
					if bad != nil {
						bad(s)
					}
					continue
				}
				for _, kv := range pairs(s, bad) {
					kv.merged = true
					merged = append(merged, kv)
				}
			}
			if src.Kind != yaml.MappingNode && src.Kind != yaml.SequenceNode && bad != nil {
				bad(src)
			}
			continue
		}
		own = append(own, pair{k: k, v: v})
	}
	return append(merged, own...)
}

func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe says what a node holds, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!str" {
			return strconv.Quote(n.Value)
		}
		return n.Value
	}
	return "an unsupported YAML node"
}

// ---- decoding ----

var dateType = reflect.TypeFor[Date]()

// decoder lays YAML nodes over Go values, strictly, collecting errors.
type decoder struct {
	file string
	errs []*ConfigError
	// meant are the paths that unknown keys were probably meant to be
	// (did you mean …); "required" for them would only repeat the typo.
	meant []*ConfigError
}

func (d *decoder) fail(line int, p keyPath, format string, args ...any) {
	d.errs = append(d.errs, &ConfigError{File: d.file, Line: line, Path: p.String(), Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) wrongType(line int, p keyPath, t reflect.Type, n *yaml.Node) {
	d.fail(line, p, "want %s, got %s", typeName(t), describe(n))
}

func typeName(t reflect.Type) string {
	if t == dateType {
		return "a date (YYYY-MM-DD)"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	}
	return t.String()
}

// decode lays n over v. line is where errors about n itself are reported
// (the line of its key, or of its list item).
func (d *decoder) decode(n *yaml.Node, v reflect.Value, p keyPath, line, depth int) {
	if depth > 50 {
		d.fail(line, p, "nested too deeply (an alias that refers to itself?)")
		return
	}
	n = deref(n)
	if isNull(n) {
		return // absent: keep what is there
	}
	if v.Type() == dateType {
		d.decodeDate(n, v, p, line)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		nv := reflect.New(v.Type().Elem())
		if !v.IsNil() {
			nv.Elem().Set(v.Elem()) // never write through a shared default pointer
		}
		d.decode(n, nv.Elem(), p, line, depth+1)
		v.Set(nv)
	case reflect.Struct:
		d.decodeStruct(n, v, p, line, depth)
	case reflect.Map:
		d.decodeMap(n, v, p, line, depth)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.wrongType(line, p, v.Type(), n)
			return
		}
		if len(n.Content) == 0 {
			v.Set(reflect.Zero(v.Type()))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			d.decode(e, s.Index(i), p.idx(i), e.Line, depth+1)
		}
		v.Set(s)
	default:
		d.decodeScalar(n, v, p, line)
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, p keyPath, line, depth int) {
	if n.Kind != yaml.MappingNode {
		d.wrongType(line, p, v.Type(), n)
		return
	}
	fields, names := yamlFields(v.Type())
	for _, kv := range d.keys(n, p) {
		k := kv.k
		kp := p.key(k.Value)
		i, ok := fields[k.Value]
		if !ok {
			hint := suggest(k.Value, names, "valid keys here")
			d.fail(k.Line, kp, "unknown key %s", hint)
			if meant, ok := strings.CutPrefix(hint, "(did you mean "); ok {
				d.meant = append(d.meant, &ConfigError{Path: p.key(strings.TrimSuffix(meant, "?)")).String()})
			}
			continue
		}
		d.decode(kv.v, v.Field(i), kp, k.Line, depth+1)
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, p keyPath, line, depth int) {
	if n.Kind != yaml.MappingNode {
		d.wrongType(line, p, v.Type(), n)
		return
	}
	t := v.Type()
	m := reflect.MakeMapWithSize(t, v.Len())
	for it := v.MapRange(); it.Next(); {
		m.SetMapIndex(it.Key(), it.Value())
	}
	for _, kv := range d.keys(n, p) {
		k := kv.k
		kp := p.key(k.Value)
		if isNull(deref(kv.v)) {
			continue // absent: keep the default entry, if any
		}
		e := reflect.New(t.Elem()).Elem() // each entry given replaces the default one
		d.decode(kv.v, e, kp, k.Line, depth+1)
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), e)
	}
	if m.Len() == 0 && v.IsNil() {
		return
	}
	v.Set(m)
}

// keys returns the pairs of mapping n whose keys are usable: plain scalars,
// each given once (a key from a merge (<<) may be overridden). It reports
// the others.
func (d *decoder) keys(n *yaml.Node, p keyPath) []pair {
	var out []pair
	own := map[string]int{}
	for _, kv := range d.pairs(n, p) {
		k := kv.k
		if k.Kind != yaml.ScalarNode {
			d.fail(k.Line, p, "keys must be plain names, got %s", describe(k))
			continue
		}
		if !kv.merged {
			if first, dup := own[k.Value]; dup {
				d.fail(k.Line, p.key(k.Value), "duplicate key (first at line %d)", first)
				continue
			}
			own[k.Value] = k.Line
		}
		out = append(out, kv)
	}
	return out
}

func (d *decoder) pairs(n *yaml.Node, p keyPath) []pair {
	return pairs(n, func(bad *yaml.Node) {
		d.fail(bad.Line, p, "a merge key (<<) needs a mapping or a list of mappings, got %s", describe(bad))
	})
}

func (d *decoder) decodeScalar(n *yaml.Node, v reflect.Value, p keyPath, line int) {
	if n.Kind != yaml.ScalarNode {
		d.wrongType(line, p, v.Type(), n)
		return
	}
	tag := n.ShortTag()
	switch v.Kind() {
	case reflect.String:
		// Any scalar reads as written, so account IDs need no quotes.
		v.SetString(n.Value)
	case reflect.Int, reflect.Int64:
		var i int64
		if tag != "!!int" || n.Decode(&i) != nil || v.OverflowInt(i) {
			d.wrongType(line, p, v.Type(), n)
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		var f float64
		if (tag != "!!int" && tag != "!!float") || n.Decode(&f) != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.wrongType(line, p, v.Type(), n)
			return
		}
		v.SetFloat(f)
	case reflect.Bool:
		var b bool
		if tag != "!!bool" || n.Decode(&b) != nil {
			d.wrongType(line, p, v.Type(), n)
			return
		}
		v.SetBool(b)
	default:
		d.fail(line, p, "cannot decode into %s", v.Type())
	}
}

func (d *decoder) decodeDate(n *yaml.Node, v reflect.Value, p keyPath, line int) {
	tag := n.ShortTag()
	if n.Kind != yaml.ScalarNode || (tag != "!!str" && tag != "!!timestamp") {
		d.wrongType(line, p, v.Type(), n)
		return
	}
	dt, err := ParseDate(n.Value)
	if err != nil {
		d.wrongType(line, p, v.Type(), n)
		return
	}
	v.Set(reflect.ValueOf(dt))
}

// yamlFields maps a struct's yaml key names to field indexes; names lists
// the keys in declaration order.
func yamlFields(t reflect.Type) (map[string]int, []string) {
	fields := map[string]int{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = i
		names = append(names, name)
	}
	return fields, names
}

// suggest returns "(did you mean X?)" when one of known is close to
// got, else "(LABEL: a, b, c)".
func suggest(got string, known []string, label string) string {
	best, bestD := "", math.MaxInt
	for _, k := range known {
		if d := editDistance(strings.ToLower(got), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" && bestD <= 2 && bestD < max(len(best)/2, 1)+1 {
		return fmt.Sprintf("(did you mean %s?)", best)
	}
	if len(known) == 0 {
		return ""
	}
	return fmt.Sprintf("(%s: %s)", label, strings.Join(known, ", "))
}

// editDistance is the optimal-string-alignment edit distance: insertions,
// deletions, substitutions and swaps of neighbours each cost 1.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
