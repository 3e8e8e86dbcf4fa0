package config

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestInitYAMLIsDefault(t *testing.T) {
	got, err := Parse("keywarden.yaml", InitYAML())
	if err != nil {
		t.Fatalf("Parse(InitYAML()) error:\n%v", err)
	}
	want := Default()
	want.Enforce.NoticeBeforeAction = StarterNoticeBeforeAction
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse(InitYAML()) differs from Default() with notice_before_action %d (-want +got):\n%s", StarterNoticeBeforeAction, diff)
	}
	if Default().Enforce.NoticeBeforeAction != 0 {
		t.Errorf("Default() notice_before_action = %d; want 0 (a config without the key acts as before)", Default().Enforce.NoticeBeforeAction)
	}
}

// TestInitYAMLNamesEveryKey: the starter config shows every key of the
// schema, set or (for keys without a default) in a comment, each with a
// comment of its own.
func TestInitYAMLNamesEveryKey(t *testing.T) {
	src := InitYAML()
	keys := map[string]string{}
	schemaKeys(parsedSchema(t), "", keys)
	for full, k := range keys {
		re := regexp.MustCompile(`(?m)^[ #]*(- )?` + regexp.QuoteMeta(k) + `:.*#|[{ ]` + regexp.QuoteMeta(k) + `: `)
		if !re.Match(src) {
			t.Errorf("InitYAML() does not show %s with a comment", full)
		}
	}
}

func TestInitYAMLReturnsACopy(t *testing.T) {
	a := InitYAML()
	a[0] = 'X'
	if b := InitYAML(); b[0] == 'X' || !bytes.HasPrefix(b, []byte("# keywarden")) {
		t.Errorf("InitYAML() after changing an earlier result starts %q; want the original", b[:12])
	}
}
