package state_test

import (
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/state"
)

func TestParseURL(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want state.URL
		err  string
	}{
		{in: "sqlite://keywarden.db", want: state.URL{Scheme: state.SchemeSQLite, Path: "keywarden.db"}},
		{in: "sqlite:///var/lib/keywarden/state.db", want: state.URL{Scheme: state.SchemeSQLite, Path: "/var/lib/keywarden/state.db"}},
		{in: "dynamodb://keywarden-state", want: state.URL{Scheme: state.SchemeDynamoDB, Path: "keywarden-state"}},
		{in: "dynamodb://kw_state.v2", want: state.URL{Scheme: state.SchemeDynamoDB, Path: "kw_state.v2"}},
		{in: "dynamodb://" + strings.Repeat("t", 255), want: state.URL{Scheme: state.SchemeDynamoDB, Path: strings.Repeat("t", 255)}},
		{in: "sqlite://", err: "sqlite:// needs a file path, e.g. sqlite://keywarden.db"},
		{in: "dynamodb://", err: `"" is not a DynamoDB table name (3-255 letters, digits, _ . -)`},
		{in: "dynamodb://kw", err: `"kw" is not a DynamoDB table name (3-255 letters, digits, _ . -)`},
		{in: "dynamodb://kw/state", err: `"kw/state" is not a DynamoDB table name (3-255 letters, digits, _ . -)`},
		{in: "dynamodb://" + strings.Repeat("t", 256), err: "is not a DynamoDB table name"},
		{in: "redis://x", err: "want sqlite://PATH or dynamodb://TABLE"},
		{in: "keywarden.db", err: "want sqlite://PATH or dynamodb://TABLE"},
		{in: "", err: "want sqlite://PATH or dynamodb://TABLE"},
	} {
		got, err := state.ParseURL(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseURL(%.40q) error = %v; want %s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want || got.String() != tt.in {
			t.Errorf("ParseURL(%q) = %+v (%s), %v; want %+v", tt.in, got, got, err, tt.want)
		}
	}
}
