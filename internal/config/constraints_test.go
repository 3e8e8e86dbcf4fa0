package config

import (
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// schemaNode returns the schema of the key a constraint path names, and
// the schema of the mapping that holds it.
func schemaNode(t *testing.T, s map[string]any, path string) (node, parent map[string]any) {
	t.Helper()
	node = s
	for _, step := range schemaPath(path) {
		parent = node
		switch step {
		case "[]":
			node, _ = node["items"].(map[string]any)
		case "{}":
			node, _ = node["additionalProperties"].(map[string]any)
		default:
			props, _ := node["properties"].(map[string]any)
			node, _ = props[step].(map[string]any)
		}
		if node == nil {
			t.Fatalf("schema has no %s (at %s)", path, step)
		}
	}
	return node, parent
}

// TestConstraintsInSchema: every constraint appears in the JSON Schema at
// its key, with its bounds, pattern, enum and required flag.
func TestConstraintsInSchema(t *testing.T) {
	s := parsedSchema(t)
	num := func(p *float64) any {
		if p == nil {
			return nil
		}
		return *p
	}
	for _, c := range constraints {
		t.Run(c.path, func(t *testing.T) {
			node, parent := schemaNode(t, s, c.path)
			minKey := "minimum"
			if c.exclusiveMin {
				minKey = "exclusiveMinimum"
			}
			if got := node[minKey]; got != num(c.min) {
				t.Errorf("%s = %v; want %v", minKey, got, num(c.min))
			}
			if got := node["maximum"]; got != num(c.max) {
				t.Errorf("maximum = %v; want %v", got, num(c.max))
			}
			wantPattern := ""
			switch {
			case c.pattern != nil:
				wantPattern = c.pattern.String()
			case c.blank:
				wantPattern = `\S`
			}
			if wantPattern != "" && c.optional {
				wantPattern = "^$|" + wantPattern
			}
			if got, _ := node["pattern"].(string); got != wantPattern {
				t.Errorf("pattern = %q; want %q", got, wantPattern)
			}
			if c.accountID {
				anyOf, _ := node["anyOf"].([]any)
				if len(anyOf) != 2 || anyOf[0].(map[string]any)["pattern"] != accountIDRE.String() {
					t.Errorf("anyOf = %v; want a 12-digit string or an integer", node["anyOf"])
				}
			}
			var wantEnum []any
			for _, v := range c.enum {
				wantEnum = append(wantEnum, v)
			}
			if got, _ := node["enum"].([]any); !cmp.Equal(got, wantEnum) {
				t.Errorf("enum = %v; want %v", got, wantEnum)
			}
			key := c.path[strings.LastIndex(c.path, ".")+1:]
			if required := slices.Contains(asSlice(parent["required"]), any(key)); required != c.required {
				t.Errorf("required in its mapping = %v; want %v", required, c.required)
			}
			if c.reserved != "" {
				if not, _ := node["not"].(map[string]any); not["const"] != c.reserved {
					t.Errorf("not = %v; want const %q", node["not"], c.reserved)
				}
			}
		})
	}
}

// constraintBases are the keys a mapping on the way to a constraint needs
// so that nothing else is wrong with it.
var constraintBases = map[string]map[string]any{
	"accounts.organization":              {"role_name": "Audit"},
	"accounts.list[]":                    {"id": "123456789012"},
	"classes[]":                          {"name": "bots", "match": map[string]any{"groups": []any{"bots"}}},
	"rules.access_key_age.{}[]":          {"at": 10, "action": "notify"},
	"rules.signing_certificate_age.{}[]": {"at": 10, "action": "notify"},
	"rules.service_credential_age.{}[]":  {"at": 10, "action": "notify"},
	"exemptions[]":                       {"users": []any{"bob"}, "reason": "legacy"},
}

// constraintDoc is a config (version 1) that sets the constraint's key to
// v, or leaves it out when omit is set, and the key's path in messages.
// Lists on the way hold one item, and maps of classes the class human.
func constraintDoc(t *testing.T, c *constraint, v any, omit bool) ([]byte, string) {
	t.Helper()
	root := map[string]any{"version": 1}
	fillDoc(root, "", schemaPath(c.path), v, omit)
	src, err := yaml.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	concrete := strings.ReplaceAll(strings.ReplaceAll(c.path, "{}", DefaultClass), "[]", "[0]")
	return src, concrete
}

// fillDoc sets what steps lead to in m, the mapping at pattern.
func fillDoc(m map[string]any, pattern string, steps []string, v any, omit bool) {
	key, name := steps[0], steps[0]
	if key == "{}" {
		name = DefaultClass
	}
	switch {
	case len(steps) > 1:
		m[name] = docValue(joinPattern(pattern, key), steps[1:], m[name], v, omit)
	case omit:
		delete(m, name)
	default:
		m[name] = v
	}
}

// docValue is the value at pattern (old, if there is one) holding what
// steps lead to.
func docValue(pattern string, steps []string, old, v any, omit bool) any {
	if steps[0] == "[]" {
		if len(steps) == 1 {
			return []any{v}
		}
		return []any{docValue(pattern+"[]", steps[1:], nil, v, omit)}
	}
	m, _ := old.(map[string]any)
	if m == nil {
		m = maps.Clone(constraintBases[pattern])
	}
	if m == nil {
		m = map[string]any{}
	}
	fillDoc(m, pattern, steps, v, omit)
	return m
}

// configKind is the kind of the Go field a constraint path names.
func configKind(t *testing.T, path string) reflect.Kind {
	t.Helper()
	typ := reflect.TypeFor[Config]()
	for _, step := range schemaPath(path) {
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		switch step {
		case "[]", "{}":
			typ = typ.Elem()
		default:
			fields, _ := yamlFields(typ)
			i, ok := fields[step]
			if !ok {
				t.Fatalf("%s: no key %s in %s", path, step, typ)
			}
			typ = typ.Field(i).Type
		}
	}
	return typ.Kind()
}

// outside lists values just outside the constraint's bounds, pattern and
// enum, each with what it breaks.
func outside(t *testing.T, c *constraint) map[string]any {
	t.Helper()
	out := map[string]any{}
	step := 1.0
	if configKind(t, c.path) == reflect.Float64 {
		step = 0.01
	}
	if c.min != nil {
		if c.exclusiveMin {
			out["the minimum itself"] = *c.min
		} else {
			out["just below the minimum"] = *c.min - step
		}
	}
	if c.max != nil {
		out["just above the maximum"] = *c.max + step
	}
	if re, _ := c.patternAndMsg(); re != nil {
		bad := "not valid!"
		if re.MatchString(bad) {
			t.Fatalf("%s: %q matches %s; the test needs a value that does not", c.path, bad, re)
		}
		out["not matching the pattern"] = bad
		for _, v := range []string{"https://hooks.example.com/services/x", "arn:aws:iam::123456789012:role/Audit"} {
			if c.misuse != nil && c.misuse.MatchString(v) && !re.MatchString(v) {
				out["a common mistake"] = v
			}
		}
		if !c.optional {
			out["empty"] = ""
		}
	}
	if c.blank {
		out["blank"] = "   "
	}
	if c.empty != "" && !c.optional {
		out["empty"] = ""
	}
	if c.enum != nil {
		out["not in the enum"] = "bogus"
	}
	if c.reserved != "" {
		out["reserved"] = c.reserved
	}
	return out
}

// inside lists values the constraint allows: the bounds themselves and
// every enum value.
func inside(t *testing.T, c *constraint) []any {
	var in []any
	if c.min != nil && !c.exclusiveMin {
		in = append(in, *c.min)
	}
	if c.min != nil && c.exclusiveMin {
		in = append(in, *c.min+0.01)
	}
	if c.max != nil {
		in = append(in, *c.max)
	}
	for _, v := range c.enum {
		in = append(in, v)
	}
	if c.optional {
		if re, _ := c.patternAndMsg(); re != nil || c.blank {
			in = append(in, "")
		}
	}
	return in
}

// yamlNumber writes whole numbers as integers, so that a whole-number key
// reads them.
func yamlNumber(v any) any {
	if f, ok := v.(float64); ok && f == float64(int(f)) {
		return int(f)
	}
	return v
}

// problemsAt lists Parse's messages about path.
func problemsAt(t *testing.T, src []byte, path string) []string {
	t.Helper()
	_, err := Parse("k.yaml", src)
	var msgs []string
	if err == nil {
		return nil
	}
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *ConfigError
		if !errors.As(e, &ce) {
			t.Fatalf("Parse error %v is %T; want *ConfigError", e, e)
		}
		if ce.Path == path {
			msgs = append(msgs, ce.Msg)
		}
	}
	return msgs
}

// schemaProblemsAt lists the schema's problems with the key at path.
func schemaProblemsAt(t *testing.T, s map[string]any, src []byte, path string) []string {
	t.Helper()
	var out []string
	for _, p := range schemaCheckYAML(t, s, src) {
		if strings.HasPrefix(p, "config."+path+": ") {
			out = append(out, p)
		}
	}
	return out
}

// TestConstraintsAgree: for every constraint, a value just outside each of
// its bounds (and a required key left out) fails both Validate and the
// JSON Schema at its key, and the bounds themselves and every enum value
// pass both.
func TestConstraintsAgree(t *testing.T) {
	s := parsedSchema(t)
	for i := range constraints {
		c := &constraints[i]
		t.Run(c.path, func(t *testing.T) {
			for what, v := range outside(t, c) {
				src, path := constraintDoc(t, c, yamlNumber(v), false)
				if got := problemsAt(t, src, path); len(got) == 0 {
					t.Errorf("%s (%v): Validate finds nothing wrong with %s in\n%s", what, v, path, src)
				}
				if got := schemaProblemsAt(t, s, src, path); len(got) == 0 {
					t.Errorf("%s (%v): the schema finds nothing wrong with %s in\n%s", what, v, path, src)
				}
			}
			if c.required {
				src, path := constraintDoc(t, c, nil, true)
				if got := problemsAt(t, src, path); len(got) == 0 {
					t.Errorf("left out: Validate finds nothing wrong with %s in\n%s", path, src)
				}
				parent, key := path[:strings.LastIndexAny(path, ".")], path[strings.LastIndexAny(path, ".")+1:]
				want := "config." + parent + ": missing required key " + key
				if got := schemaCheckYAML(t, s, src); !slices.Contains(got, want) {
					t.Errorf("left out: the schema says %q; want %q", got, want)
				}
			}
			for _, v := range inside(t, c) {
				src, path := constraintDoc(t, c, yamlNumber(v), false)
				if got := problemsAt(t, src, path); len(got) > 0 {
					t.Errorf("%v: Validate says %q about %s; want nothing", v, got, path)
				}
				if got := schemaProblemsAt(t, s, src, path); len(got) > 0 {
					t.Errorf("%v: the schema says %q; want nothing", v, got)
				}
			}
		})
	}
}

// TestConstraintMessages pins the messages the table writes for each kind
// of bound; the rest are pinned by the Parse and Validate tests.
func TestConstraintMessages(t *testing.T) {
	tests := []struct {
		path string
		v    any
		want string
	}{
		{"accounts.parallel", 65, "must be between 1 and 64 (got 65)"},
		{"rules.access_key_unused.after", 0, "must be between 1 and 36500 (got 0)"},
		{"enforce.grace_after_disable", -1, "must be between 0 and 36500 (got -1)"},
		{"notify.rate_per_second", -0.5, "must be 0 or more (got -0.5)"},
		{"enforce.max_fraction", 0.0, "must be more than 0 and at most 1 (got 0)"},
		{"rules.access_key_age.{}[].action", "", "required (want notify, rotate, disable or delete)"},
		{"notify.users.via", "", `unknown channel "" (want ses, smtp or outbox)`},
		{"exemptions[].rules[]", "mfa", `unknown rule "mfa" (rules: access_key_age, access_key_unused, password_expiry, password_unused, mfa_missing, root_access_key, access_key_unknown_age, ` +
			`signing_certificate_age, root_signing_certificate, service_credential_age, service_credential_expiry, ssh_key_age, ` +
			`root_recent_use, password_policy, access_key_at_setup, two_active_keys, console_and_keys, dormant_user)`},
		{"exemptions[].rules[]", "dormant_users", `unknown rule "dormant_users" (did you mean dormant_user?)`},
		{"rules.two_active_keys.action", "disable", `only notify is allowed; keywarden cannot tell which of the two keys to disable (got "disable")`},
		{"rules.console_and_keys.severity", "info", ""},
		{"enforce.window.days[]", "Mon", ""},
		{"notify.admins.webhook_url_env", "https://x.example/h", "name the environment variable that holds the webhook URL, not the URL itself (secrets never go in the config file)"},
		{"accounts.list[].id", "1234", `"1234" is not an AWS account ID (want 12 digits)`},
		{"notify.templates.user_html", " ", "a file name, or leave it out for the built-in template"},
		{"notify.templates.user_html", "", ""},
	}
	for _, tt := range tests {
		c := constraintAt[tt.path]
		if c == nil {
			t.Fatalf("no constraint for %s", tt.path)
		}
		if got := c.check(reflect.ValueOf(tt.v)); got != tt.want {
			t.Errorf("%s = %v: check() = %q; want %q", tt.path, tt.v, got, tt.want)
		}
	}
}

// TestConstraintPathsExist: every constraint names a key of Config.
func TestConstraintPathsExist(t *testing.T) {
	for _, c := range constraints {
		k := configKind(t, c.path)
		want := map[reflect.Kind]bool{reflect.Struct: true}
		switch {
		case c.min != nil || c.max != nil:
			want = map[reflect.Kind]bool{reflect.Int: true, reflect.Float64: true}
		case c.pattern != nil || c.enum != nil || c.accountID || c.empty != "" || c.blank:
			want = map[reflect.Kind]bool{reflect.String: true}
		}
		if !want[k] {
			t.Errorf("%s is a %s; want one of %v", c.path, k, slices.Collect(maps.Keys(want)))
		}
	}
}
