package report

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/forecast"
	"github.com/keywarden/keywarden/internal/policy"
)

// TestJSONGoldenDecodesToReport: the golden document decodes back into the
// report it was rendered from. AccountAlias and KeyCreatedAt are not part of
// the contract (json:"-"), and an empty recipients array decodes to an
// empty slice where the report held nil.
func TestJSONGoldenDecodesToReport(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "sample.json.golden"))
	if err != nil {
		t.Fatal(err)
	}
	var got Report
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decode sample.json.golden: %v", err)
	}
	want := sampleReport()
	if diff := cmp.Diff(want, &got, cmpopts.EquateEmpty(), cmpopts.IgnoreFields(policy.Finding{}, "AccountAlias", "KeyCreatedAt")); diff != "" {
		t.Errorf("sample.json.golden decoded differs from sampleReport() (-want +got):\n%s", diff)
	}
}

// contractFindingKeys are the keys of a finding in keywarden.report/v1.
var contractFindingKeys = []string{
	"id", "account", "user", "class", "credential", "key_id", "slot", "rule", "age_days",
	"days_left", "stage_at", "action", "severity", "next_stage_on", "exempt", "exempt_reason",
	"recipients", "reason",
	// Additions.
	"class_from_tag", "exempt_from_tag", "service", "controls",
}

// contractComplianceKeys are the keys of a "compliance" element, an
// addition to keywarden.report/v1.
var contractComplianceKeys = []string{"id", "title", "status", "rules", "findings", "accounts", "exempt", "why"}

// checkKeys checks that m has exactly the keys want.
func checkKeys(t *testing.T, what string, want []string, m map[string]any) {
	t.Helper()
	keys := slices.Collect(maps.Keys(m))
	if diff := cmp.Diff(want, keys, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("%s keys differ from the contract (-want +got):\n%s", what, diff)
	}
}

// TestJSONContract checks the shape other tools rely on, for a report built
// by New and for one assembled by hand with nil slices and maps.
func TestJSONContract(t *testing.T) {
	at := time.Date(2026, 11, 23, 9, 30, 15, 123456789, time.FixedZone("CET", 3600))
	handmade := &Report{
		GeneratedAt: at, AsOf: at,
		Findings: []policy.Finding{{ID: "x", Account: "111111111111", User: "bob", Credential: policy.CredentialMFA,
			Rule: config.RuleMFAMissing, Action: config.ActionNotify, Severity: config.SeverityHigh}},
	}
	tests := []struct {
		name   string
		report *Report
	}{
		{"sample", sampleReport()},
		{"empty", emptyReport()},
		{"nil slices and maps", handmade},
		{"nil findings", &Report{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := render(t, tt.report, FormatJSON, Options{})
			if !strings.HasSuffix(out, "}\n") || strings.HasSuffix(out, "\n\n") {
				t.Errorf("JSON report ends %q; want one trailing newline", out[max(len(out)-5, 0):])
			}
			if !strings.HasPrefix(out, "{\n  \"schema\"") {
				t.Errorf("JSON report starts %q; want a two-space indent", out[:min(len(out), 20)])
			}
			var doc map[string]any
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("JSON report does not decode: %v", err)
			}
			if doc["schema"] != Schema {
				t.Errorf("schema = %v; want %s", doc["schema"], Schema)
			}
			for _, k := range []string{"generated_at", "as_of"} {
				s, _ := doc[k].(string)
				if p, err := time.Parse(time.RFC3339, s); err != nil || p.Location() != time.UTC || strings.Contains(s, ".") {
					t.Errorf("%s = %q; want RFC 3339 UTC to the second", k, s)
				}
			}
			if _, ok := doc["accounts"].([]any); !ok {
				t.Errorf("accounts = %#v; want an array", doc["accounts"])
			}
			findings, ok := doc["findings"].([]any)
			if !ok {
				t.Fatalf("findings = %#v; want an array", doc["findings"])
			}
			for i, v := range findings {
				f := v.(map[string]any)
				checkKeys(t, fmt.Sprintf("findings[%d]", i), contractFindingKeys, f)
				if _, ok := f["recipients"].([]any); !ok {
					t.Errorf("findings[%d].recipients = %#v; want an array", i, f["recipients"])
				}
			}
			compliance, ok := doc["compliance"].([]any)
			if !ok || len(compliance) != len(policy.Controls) {
				t.Fatalf("compliance = %#v; want an array of %d controls", doc["compliance"], len(policy.Controls))
			}
			for i, v := range compliance {
				c := v.(map[string]any)
				checkKeys(t, fmt.Sprintf("compliance[%d]", i), contractComplianceKeys, c)
				if c["id"] != policy.Controls[i].ID {
					t.Errorf("compliance[%d].id = %v; want %s (policy.Controls' order)", i, c["id"], policy.Controls[i].ID)
				}
				if st := c["status"]; st != ControlPassed && st != ControlFailed && st != ControlNotChecked {
					t.Errorf("compliance[%d].status = %v; want PASSED, FAILED or NOT_CHECKED", i, st)
				}
				if _, ok := c["rules"].([]any); !ok {
					t.Errorf("compliance[%d].rules = %#v; want an array", i, c["rules"])
				}
			}
			summary, _ := doc["summary"].(map[string]any)
			for _, k := range []string{"by_rule", "by_action", "by_severity"} {
				if _, ok := summary[k].(map[string]any); !ok {
					t.Errorf("summary.%s = %#v; want an object", k, summary[k])
				}
			}
		})
	}
}

// TestJSONUnsetValuesAreNull: days_left and next_stage_on are null when
// unset and numbers/dates when set; key_id is "" for a non-key finding.
func TestJSONUnsetValuesAreNull(t *testing.T) {
	var doc struct {
		Findings []map[string]json.RawMessage `json:"findings"`
	}
	if err := json.Unmarshal([]byte(render(t, sampleReport(), FormatJSON, Options{})), &doc); err != nil {
		t.Fatal(err)
	}
	byID := map[string]map[string]json.RawMessage{}
	for _, f := range doc.Findings {
		var id string
		_ = json.Unmarshal(f["id"], &id)
		byID[id] = f
	}
	tests := []struct {
		id, key, want string
	}{
		{"0a0b0c0d0e0f1011", "days_left", "null"},     // mfa_missing
		{"e7e7e7e7a1b2c3d4", "days_left", "-3"},       // password_expiry
		{"3f9c1a7be2d04c11", "next_stage_on", "null"}, // last stage reached
		{"c0ffee0012345678", "next_stage_on", `"2026-11-28"`},
		{"0a0b0c0d0e0f1011", "key_id", `""`},
		{"0a0b0c0d0e0f1011", "slot", "0"},
		{"3f9c1a7be2d04c11", "key_id", `"AKIAIOSFODNN7EXAMPLE"`},
		{"0a0b0c0d0e0f1011", "recipients", "[]"},
		{"9999aaaabbbbcccc", "user", `"<root_account>"`}, // no HTML escaping
	}
	for _, tt := range tests {
		f, ok := byID[tt.id]
		if !ok {
			t.Fatalf("finding %s missing from the JSON report", tt.id)
		}
		if got := string(f[tt.key]); got != tt.want {
			t.Errorf("finding %s: %s = %s; want %s", tt.id, tt.key, got, tt.want)
		}
	}
}

// TestJSONDoesNotModifyReport: normalising for JSON works on a copy.
func TestJSONDoesNotModifyReport(t *testing.T) {
	r := &Report{Findings: []policy.Finding{{ID: "x"}}}
	render(t, r, FormatJSON, Options{})
	if r.Findings[0].Recipients != nil || r.Accounts != nil || r.Schema != "" || r.Summary.ByRule != nil {
		t.Errorf("Render(json) changed the report: %+v", r)
	}
	if !slices.Equal(r.Findings[0].Recipients, nil) {
		t.Error("recipients changed")
	}
}

// TestJSONInventoryUpcoming: inventory.upcoming is always an array of
// keywarden.forecast/v1 events, their times RFC 3339 UTC to the second.
func TestJSONInventoryUpcoming(t *testing.T) {
	e := sampleUpcoming()[0]
	e.At = e.At.Add(123 * time.Millisecond)
	for _, tt := range []struct {
		name     string
		upcoming []forecast.Event
		want     int
	}{{"nil", nil, 0}, {"one event", []forecast.Event{e}, 1}} {
		t.Run(tt.name, func(t *testing.T) {
			r := emptyReport()
			r.Inventory = &Inventory{Upcoming: tt.upcoming}
			var doc struct {
				Inventory struct {
					Upcoming []map[string]any `json:"upcoming"`
				} `json:"inventory"`
			}
			out := render(t, r, FormatJSON, Options{})
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, `"upcoming": [`) || len(doc.Inventory.Upcoming) != tt.want {
				t.Fatalf("inventory.upcoming = %v; want an array of %d", doc.Inventory.Upcoming, tt.want)
			}
			for _, ev := range doc.Inventory.Upcoming {
				keys := slices.Sorted(maps.Keys(ev))
				want := []string{"account", "account_alias", "action", "at", "change", "class", "credential", "exempt",
					"finding_id", "key_id", "next_stage_on", "on", "reason", "rule", "service", "severity", "slot", "stage_at", "user"}
				if !slices.Equal(keys, want) {
					t.Errorf("upcoming event keys = %q; want the forecast/v1 event's %q", keys, want)
				}
				if ev["at"] != "2026-11-26T09:00:00Z" || ev["on"] != "2026-11-26" {
					t.Errorf("upcoming event at, on = %v, %v; want 2026-11-26T09:00:00Z (to the second), 2026-11-26", ev["at"], ev["on"])
				}
			}
		})
	}
}
