package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

func parsedSchema(t *testing.T) map[string]any {
	t.Helper()
	b, err := JSONSchema()
	if err != nil {
		t.Fatalf("JSONSchema() error: %v", err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("JSONSchema() is not valid JSON: %v\n%s", err, b)
	}
	return s
}

func TestJSONSchemaHeader(t *testing.T) {
	s := parsedSchema(t)
	if got, want := s["$schema"], "https://json-schema.org/draft/2020-12/schema"; got != want {
		t.Errorf("$schema = %v; want %v", got, want)
	}
	if got := s["$id"]; got != SchemaID {
		t.Errorf("$id = %v; want %v", got, SchemaID)
	}
	if got, want := s["required"], []any{"version"}; !cmp.Equal(got, want) {
		t.Errorf("required = %v; want %v", got, want)
	}
}

// TestJSONSchemaMatchesConfig walks the schema and the Go types together:
// every struct's yaml keys, and nothing else, are the schema's properties,
// and every object is closed.
func TestJSONSchemaMatchesConfig(t *testing.T) {
	var walk func(s map[string]any, typ reflect.Type, path string)
	walk = func(s map[string]any, typ reflect.Type, path string) {
		for typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		if typ == dateType {
			if s["type"] != "string" || s["format"] != "date" {
				t.Errorf("%s: schema %v; want a string of format date", path, s)
			}
			return
		}
		switch typ.Kind() {
		case reflect.Struct:
			props, _ := s["properties"].(map[string]any)
			_, names := yamlFields(typ)
			if got := slices.Sorted(maps.Keys(props)); !cmp.Equal(got, slices.Sorted(slices.Values(names))) {
				t.Errorf("%s: schema properties %v; want the yaml keys of %s %v", path, got, typ.Name(), names)
			}
			if s["additionalProperties"] != false {
				t.Errorf("%s: additionalProperties = %v; want false", path, s["additionalProperties"])
			}
			fields, _ := yamlFields(typ)
			for name, i := range fields {
				if p, ok := props[name].(map[string]any); ok {
					if d, _ := p["description"].(string); d == "" {
						t.Errorf("%s.%s: no description", path, name)
					}
					walk(p, typ.Field(i).Type, path+"."+name)
				}
			}
		case reflect.Map:
			ap, ok := s["additionalProperties"].(map[string]any)
			if s["type"] != "object" || !ok {
				t.Errorf("%s: schema %v; want an object with additionalProperties", path, s)
				return
			}
			walk(ap, typ.Elem(), path+".*")
		case reflect.Slice:
			items, ok := s["items"].(map[string]any)
			if s["type"] != "array" || !ok {
				t.Errorf("%s: schema %v; want an array with items", path, s)
				return
			}
			walk(items, typ.Elem(), path+"[]")
		}
	}
	walk(parsedSchema(t), reflect.TypeFor[Config](), "config")
}

// TestJSONSchemaEnums checks the enums the brief promises to editors.
func TestJSONSchemaEnums(t *testing.T) {
	s := parsedSchema(t)
	tests := []struct {
		path string
		want []any
	}{
		{"rules.access_key_age.{}[].action", []any{"notify", "rotate", "disable", "delete"}},
		{"rules.access_key_age.{}[].severity", []any{"info", "low", "medium", "high", "critical"}},
		{"rules.access_key_unused.action", []any{"notify", "disable"}},
		{"rules.password_unused.action", []any{"notify", "remove_password"}},
		{"rules.mfa_missing.action", []any{"notify"}},
		{"rules.root_access_key.action", []any{"notify"}},
		{"rules.password_expiry.severity", []any{"info", "low", "medium", "high", "critical"}},
		{"enforce.mode", []any{"dry_run", "apply"}},
		{"notify.admins.send_when", []any{"findings", "always"}},
		{"notify.users.via", []any{"ses", "smtp", "outbox"}},
		{"exemptions[].rules[]", []any{"access_key_age", "access_key_unused", "password_expiry", "password_unused", "mfa_missing", "root_access_key", "access_key_unknown_age",
			"signing_certificate_age", "root_signing_certificate", "service_credential_age", "service_credential_expiry", "ssh_key_age",
			"root_recent_use", "password_policy", "access_key_at_setup", "two_active_keys", "console_and_keys", "dormant_user"}},
		{"rules.signing_certificate_age.{}[].action", []any{"notify", "disable", "delete"}},
		{"rules.service_credential_age.{}[].action", []any{"notify", "disable", "delete"}},
		{"rules.console_and_keys.severity", []any{"info", "low", "medium", "high", "critical"}},
		{"rules.dormant_user.action", []any{"notify"}},
		{"rules.two_active_keys.action", []any{"notify"}},
	}
	for _, tt := range tests {
		node, _ := schemaNode(t, s, tt.path)
		if got := node["enum"]; !cmp.Equal(got, tt.want) {
			t.Errorf("schema %s enum = %v; want %v", tt.path, got, tt.want)
		}
	}
}

// yamlValue turns a YAML node into the value its JSON form would have
// (numbers as float64, dates as strings), following aliases and merges.
func yamlValue(n *yaml.Node) any {
	n = deref(n)
	switch n.Kind {
	case yaml.DocumentNode:
		return yamlValue(n.Content[0])
	case yaml.MappingNode:
		m := map[string]any{}
		for _, kv := range pairs(n, nil) {
			m[kv.k.Value] = yamlValue(kv.v)
		}
		return m
	case yaml.SequenceNode:
		l := []any{}
		for _, e := range n.Content {
			l = append(l, yamlValue(e))
		}
		return l
	}
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		_ = n.Decode(&b)
		return b
	case "!!int", "!!float":
		var f float64
		_ = n.Decode(&f)
		return f
	}
	return n.Value
}

// schemaCheck validates v against the subset of JSON Schema that
// JSONSchema uses, returning "path: problem" lines.
func schemaCheck(s map[string]any, v any, path string) []string {
	var probs []string
	bad := func(format string, args ...any) { probs = append(probs, path+": "+fmt.Sprintf(format, args...)) }
	num := func(k string) (float64, bool) { f, ok := s[k].(float64); return f, ok }
	if typ, ok := s["type"].(string); ok {
		okType := false
		switch x := v.(type) {
		case map[string]any:
			okType = typ == "object"
		case []any:
			okType = typ == "array"
		case string:
			okType = typ == "string"
		case bool:
			okType = typ == "boolean"
		case float64:
			okType = typ == "number" || (typ == "integer" && x == math.Trunc(x))
		}
		if !okType {
			bad("want %s, got %#v", typ, v)
			return probs
		}
	}
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, v) {
		bad("%v is not one of %v", v, enum)
	}
	if c, ok := s["const"]; ok && c != v {
		bad("want %v, got %v", c, v)
	}
	if not, ok := s["not"].(map[string]any); ok && len(schemaCheck(not, v, path)) == 0 {
		bad("matches the schema under not: %v", not)
	}
	if anyOf, ok := s["anyOf"].([]any); ok {
		matched := false
		for _, sub := range anyOf {
			if len(schemaCheck(sub.(map[string]any), v, path)) == 0 {
				matched = true
			}
		}
		if !matched {
			bad("matches none of anyOf %v", anyOf)
		}
	}
	switch x := v.(type) {
	case map[string]any:
		for _, r := range asSlice(s["required"]) {
			if _, ok := x[r.(string)]; !ok {
				bad("missing required key %s", r)
			}
		}
		if mp, ok := num("minProperties"); ok && float64(len(x)) < mp {
			bad("want at least %v keys", mp)
		}
		props, _ := s["properties"].(map[string]any)
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if p, ok := props[k].(map[string]any); ok {
				probs = append(probs, schemaCheck(p, x[k], path+"."+k)...)
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					probs = append(probs, path+"."+k+": not in the schema")
				}
			case map[string]any:
				probs = append(probs, schemaCheck(ap, x[k], path+"."+k)...)
			}
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, e := range x {
				probs = append(probs, schemaCheck(items, e, path+"["+strconv.Itoa(i)+"]")...)
			}
		}
	case string:
		if p, ok := s["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(x) {
			bad("%q does not match %s", x, p)
		}
		if ml, ok := num("minLength"); ok && float64(len(x)) < ml {
			bad("shorter than %v", ml)
		}
	case float64:
		if m, ok := num("minimum"); ok && x < m {
			bad("%v is below %v", x, m)
		}
		if m, ok := num("maximum"); ok && x > m {
			bad("%v is above %v", x, m)
		}
		if m, ok := num("exclusiveMinimum"); ok && x <= m {
			bad("%v is not above %v", x, m)
		}
	}
	return probs
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

func schemaCheckYAML(t *testing.T, s map[string]any, src []byte) []string {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	return schemaCheck(s, yamlValue(&doc), "config")
}

// TestJSONSchemaAcceptsValidConfigs: every config that Parse accepts in
// the repository also passes the schema.
func TestJSONSchemaAcceptsValidConfigs(t *testing.T) {
	s := parsedSchema(t)
	files, _ := filepath.Glob("testdata/config/valid-*.yaml")
	files = append(files, "../../examples/keywarden.yaml")
	srcs := map[string][]byte{"InitYAML()": InitYAML()}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		srcs[f] = b
	}
	for name, src := range srcs {
		if _, err := Parse(name, src); err != nil {
			t.Errorf("Parse(%s): %v", name, err)
		}
		if probs := schemaCheckYAML(t, s, src); len(probs) > 0 {
			t.Errorf("schema rejects %s:\n%s", name, strings.Join(probs, "\n"))
		}
	}
}

// TestJSONSchemaRejects: the schema catches what an editor should flag
// (and the checker above is not vacuous).
func TestJSONSchemaRejects(t *testing.T) {
	s := parsedSchema(t)
	tests := []struct {
		yaml string
		want string
	}{
		{"rules: {}", "config: missing required key version"},
		{"version: 2", "config.version: want 1, got 2"},
		{"version: 1\nrules: {acess_key_age: {}}", "config.rules.acess_key_age: not in the schema"},
		{"version: 1\nrules: {access_key_age: {human: [{at: 80, action: disabel}]}}", "config.rules.access_key_age.human[0].action: disabel is not one of [notify rotate disable delete]"},
		{"version: 1\nrules: {access_key_age: {human: [{action: notify}]}}", "config.rules.access_key_age.human[0]: missing required key at"},
		{"version: 1\nrules: {access_key_age: {human: [{at: 0, action: notify}]}}", "config.rules.access_key_age.human[0].at: 0 is below 1"},
		{"version: 1\nrules: {root_access_key: {action: delete}}", "config.rules.root_access_key.action: delete is not one of [notify]"},
		{"version: 1\nrules: {mfa_missing: {severity: urgent}}", "config.rules.mfa_missing.severity: urgent is not one of [info low medium high critical]"},
		{"version: 1\nrules: {ssh_key_age: {max_age: 30}}", "config.rules.ssh_key_age: missing required key users"},
		{"version: 1\nrules: {ssh_key_age: {users: {}}}", "config.rules.ssh_key_age.users: want at least 1 keys"},
		{"version: 1\nrules: {password_policy: {min_length: 5}}", "config.rules.password_policy.min_length: 5 is below 6"},
		{"version: 1\nrules: {signing_certificate_age: {human: [{at: 0, action: notify}]}}", "config.rules.signing_certificate_age.human[0].at: 0 is below 1"},
		{"version: 1\nrules: {access_key_unused: {after: thirty}}", `config.rules.access_key_unused.after: want integer, got "thirty"`},
		{"version: 1\naccounts: {organization: {role_name: A}, list: [{id: \"123456789012\"}]}", "config.accounts: matches the schema under not"},
		{"version: 1\naccounts: {list: [{id: \"1234\"}]}", `config.accounts.list[0].id: matches none of anyOf`},
		{"version: 1\nnotify: {admins: {sns_topic_arn: \"...\"}}", `config.notify.admins.sns_topic_arn: "..." does not match`},
		{"version: 1\nclasses: [{name: human, match: {groups: [a]}}]", "config.classes[0].name: matches the schema under not"},
		{"version: 1\nclasses: [{name: bots, match: {}}]", "config.classes[0].match: want at least 1 keys"},
		{"version: 1\nexemptions: [{reason: r}]", "config.exemptions[0]: matches none of anyOf"},
		{"version: 1\nexemptions: [{users: [a], reason: r, until: 2027-1-31}]", `config.exemptions[0].until: "2027-1-31" does not match`},
		{"version: 1\nenforce: {max_fraction: 0}", "config.enforce.max_fraction: 0 is not above 0"},
		{"version: 1\nenforce: {mode: yolo}", "config.enforce.mode: yolo is not one of [dry_run apply]"},
		{"version: 1\nenforce: {protect: [{reason: r}]}", "config.enforce.protect[0]: matches none of anyOf"},
		{"version: 1\nenforce: {protect: [{key_ids: [akia]}]}", `config.enforce.protect[0].key_ids[0]: "akia" does not match`},
		{"version: 1\nnotify: {admins: {send_when: weekly}}", "config.notify.admins.send_when: weekly is not one of [findings always]"},
		{"version: 1\nstate: {url: \"redis://x\"}", `config.state.url: "redis://x" does not match`},
	}
	for _, tt := range tests {
		probs := schemaCheckYAML(t, s, []byte(tt.yaml))
		found := slices.ContainsFunc(probs, func(p string) bool { return strings.HasPrefix(p, tt.want) })
		if !found {
			t.Errorf("schema check of %q = %q; want a problem starting %q", tt.yaml, probs, tt.want)
		}
	}
}

// schemaKeys lists every property name in the schema, with its path.
func schemaKeys(s map[string]any, path string, out map[string]string) {
	if props, ok := s["properties"].(map[string]any); ok {
		for k, p := range props {
			full := strings.TrimPrefix(path+"."+k, ".")
			out[full] = k
			schemaKeys(p.(map[string]any), full, out)
		}
	}
	for _, sub := range []string{"items", "additionalProperties"} {
		if p, ok := s[sub].(map[string]any); ok {
			schemaKeys(p, path, out)
		}
	}
}

// TestDocsCoverEveryKey: docs/configuration.md names every key of the
// schema in backquotes.
func TestDocsCoverEveryKey(t *testing.T) {
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	schemaKeys(parsedSchema(t), "", keys)
	for full, k := range keys {
		re := regexp.MustCompile("`[^`\n]*\\b" + regexp.QuoteMeta(k) + "\\b[^`\n]*`")
		if !re.Match(b) {
			t.Errorf("docs/configuration.md does not mention %s (`%s`)", full, k)
		}
	}
}
