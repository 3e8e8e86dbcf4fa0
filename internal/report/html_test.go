package report

import (
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/policy"
)

// hostileUser is a user name that runs script if the HTML report fails to
// escape it: as an element, as an attribute breakout and as an event
// handler. The browser test checks that window.pwned stays unset.
const hostileUser = `<script>window.pwned=1</script><img src=x onerror="window.pwned=2">"' onmouseover=window.pwned=3 x='`

// htmlReport is sampleReport plus findings whose user names and account
// alias are hostile, with next stages inside the calendar window.
func htmlReport() *Report {
	r := sampleReport()
	fs := append([]policy.Finding(nil), r.Findings...)
	fs = append(fs,
		policy.Finding{
			ID: "beefbeefbeef0001", Account: "111111111111", AccountAlias: "prod-main", User: hostileUser, Class: "human",
			Credential: policy.CredentialAccessKey, KeyID: "AKIAHOSTILE000000001", Slot: 1,
			Rule: policy.RuleAccessKeyAge, AgeDays: 72, StageAt: 70, Action: policy.ActionNotify, Severity: policy.SeverityMedium,
			NextStageOn: datep("2026-12-01"), Recipients: []string{"x@example.com"},
			Reason: `access key 1 is 72 days old </td></tr><script>window.pwned=4</script>`,
		},
		policy.Finding{
			ID: "beefbeefbeef0002", Account: "111111111111", AccountAlias: "prod-main", User: "zoe", Class: "human",
			Credential: policy.CredentialAccessKey, KeyID: "AKIAZOE0000000000001", Slot: 1,
			Rule: policy.RuleAccessKeyAge, AgeDays: 78, StageAt: 70, Action: policy.ActionNotify, Severity: policy.SeverityMedium,
			NextStageOn: datep("2026-11-25"), Reason: "access key 1 is 78 days old",
		},
	)
	out := New(r.GeneratedAt, r.AsOf, r.Accounts, fs)
	out.Inventory = r.Inventory
	return out
}

func TestHTMLOneRowPerFinding(t *testing.T) {
	r := htmlReport()
	out := render(t, r, FormatHTML, Options{})
	for _, f := range r.Findings {
		if n := strings.Count(out, `<tr data-finding="`+f.ID+`"`); n != 1 {
			t.Errorf("rows with data-finding=%q: %d; want 1", f.ID, n)
		}
	}
	if got, want := strings.Count(out, "<tr data-finding="), len(r.Findings); got != want {
		t.Errorf("rows with data-finding = %d; want %d (one per finding)", got, want)
	}
}

// TestHTMLEscapesIAMText: no user-controlled string reaches the page as
// markup; it appears only escaped.
func TestHTMLEscapesIAMText(t *testing.T) {
	out := render(t, htmlReport(), FormatHTML, Options{})
	for _, bad := range []string{"<script>window.pwned", "<script>alert", "<img src=x", `onerror="window`, "</td></tr><script>"} {
		if strings.Contains(out, bad) {
			t.Errorf("HTML report contains %q unescaped", bad)
		}
	}
	if got := strings.Count(out, "<script"); got != 1 {
		t.Errorf("HTML report has %d <script elements; want 1 (its own)", got)
	}
	for _, want := range []string{
		"&lt;script&gt;window.pwned=1&lt;/script&gt;&lt;img src=x onerror=&#34;window.pwned=2&#34;&gt;",
		"&lt;root_account&gt;",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("HTML report lacks the escaped text %q", want)
		}
	}
}

// TestHTMLSelfContained: nothing is loaded from anywhere: no src or href
// attribute names a URL, and the CSP forbids every fetch.
func TestHTMLSelfContained(t *testing.T) {
	out := render(t, htmlReport(), FormatHTML, Options{})
	re := regexp.MustCompile(`(?i)\b(src|href|xlink:href|action|srcset|poster|data)\s*=\s*["']?\s*(https?:)?//`)
	if m := re.FindString(out); m != "" {
		t.Errorf("HTML report loads from another host: %q", m)
	}
	if m := regexp.MustCompile(`(?i)url\(\s*['"]?(https?:)?//`).FindString(out); m != "" {
		t.Errorf("HTML report's CSS loads from another host: %q", m)
	}
	if m := regexp.MustCompile(`(?i)@import`).FindString(out); m != "" {
		t.Errorf("HTML report's CSS imports: %q", m)
	}
	if !strings.Contains(out, `content="default-src &#39;none&#39;;`) {
		t.Error("HTML report's Content-Security-Policy does not start with default-src 'none'")
	}
}

// TestHTMLCSPHashesMatch: the CSP names the SHA-256 of the inline style and
// script exactly as written, so the browser runs them (and nothing else).
func TestHTMLCSPHashesMatch(t *testing.T) {
	out := render(t, htmlReport(), FormatHTML, Options{})
	hash := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
	}
	for _, tag := range []string{"style", "script"} {
		m := regexp.MustCompile(`(?s)<` + tag + `>(.*?)</` + tag + `>`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no <%s> in the HTML report", tag)
		}
		want := tag + "-src &#39;" + strings.ReplaceAll(hash(m[1]), "+", "&#43;") + "&#39;"
		if !strings.Contains(out, want) {
			t.Errorf("CSP lacks %q for the inline %s", want, tag)
		}
	}
}

func TestHTMLCharts(t *testing.T) {
	out := render(t, htmlReport(), FormatHTML, Options{})
	for _, id := range []string{`id="chart-key-age"`, `id="chart-by-account"`, `id="chart-calendar"`} {
		if !strings.Contains(out, id) {
			t.Errorf("HTML report lacks the chart %s", id)
		}
	}
	// The default stages: 70, 80 and 90 days, each marked once.
	for _, at := range []string{`data-at="70 d"`, `data-at="80 d"`, `data-at="90 d"`} {
		if n := strings.Count(out, at); n != 1 {
			t.Errorf("threshold mark %s appears %d times; want 1", at, n)
		}
	}
	if n := strings.Count(out, `<g class="day `); n != 30 {
		t.Errorf("calendar days = %d; want 30", n)
	}
	// build-bot's next stage is 2026-11-28, zoe's 2026-11-25, the hostile
	// user's 2026-12-01: one finding on each of those days.
	for _, d := range []string{"2026-11-25", "2026-11-28", "2026-12-01"} {
		if !strings.Contains(out, `data-date="`+d+`" data-count="1"`) {
			t.Errorf("calendar day %s does not count 1 finding", d)
		}
	}
}

func TestHistogram(t *testing.T) {
	h := newHistogram(sampleInventory())
	// Stages up to 90 days: bins of 10 days up to 120, then "120+".
	if len(h.Bars) != 13 {
		t.Fatalf("bars = %d; want 13", len(h.Bars))
	}
	want := map[int]int{0: 40, 1: 18, 2: 31, 5: 22, 7: 9, 8: 1, 9: 1, 12: 1}
	total := 0
	for i, b := range h.Bars {
		if b.N != want[i] {
			t.Errorf("bar %d (%s) = %d keys; want %d", i, b.Title, b.N, want[i])
		}
		total += b.N
	}
	if h.Total != 123 || total != 123 {
		t.Errorf("histogram total = %d (bars %d); want 123", h.Total, total)
	}
	if len(h.Marks) != 3 || h.Marks[2].Title != "90 days: human delete, machine notify" {
		t.Errorf("marks = %+v; want 70, 80, 90 with classes and actions", h.Marks)
	}
	if newHistogram(nil) != nil {
		t.Error("newHistogram(nil) != nil; want no chart without an inventory")
	}
}

func TestNiceCeil(t *testing.T) {
	for _, tt := range []struct{ in, want int }{{0, 2}, {1, 2}, {2, 2}, {3, 5}, {7, 10}, {10, 10}, {11, 20}, {40, 50}, {51, 100}, {101, 200}} {
		if got := niceCeil(tt.in); got != tt.want {
			t.Errorf("niceCeil(%d) = %d; want %d", tt.in, got, tt.want)
		}
	}
}

func TestNewInventory(t *testing.T) {
	asOf := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	ago := func(days int) time.Time { return asOf.Add(-time.Duration(days)*24*time.Hour - time.Hour) }
	snap := &inventory.Snapshot{
		AccountID: "111111111111",
		Users: []inventory.User{
			{Name: "alice", AccessKeys: []inventory.AccessKey{{Slot: 1, Active: true, CreatedAt: ago(91)}, {Slot: 2, Active: false, CreatedAt: ago(10)}}},
			{Name: "bot", Tags: map[string]string{"UserType": "machine"}, AccessKeys: []inventory.AccessKey{{Slot: 1, Active: true, CreatedAt: ago(91)}}},
			{Name: "carol", AccessKeys: []inventory.AccessKey{{Slot: 1, Active: true, CreatedAt: ago(91)}, {Slot: 2, Active: true}}},
		},
		Root: &inventory.User{Name: inventory.RootUserName, AccessKeys: []inventory.AccessKey{{Slot: 1, Active: true, CreatedAt: ago(700)}}},
	}
	other := &inventory.Snapshot{AccountID: "222222222222", Users: []inventory.User{
		{Name: "dave", AccessKeys: []inventory.AccessKey{{Slot: 1, Active: true, CreatedAt: ago(5)}}},
	}}
	got := NewInventory(policy.Default(), asOf, snap, nil, other)
	want := []KeyAgeCount{{"human", 5, 1}, {"human", 91, 2}, {"machine", 91, 1}}
	if len(got.ActiveKeyAges) != len(want) {
		t.Fatalf("NewInventory().ActiveKeyAges = %+v; want %+v", got.ActiveKeyAges, want)
	}
	for i := range want {
		if got.ActiveKeyAges[i] != want[i] {
			t.Errorf("ActiveKeyAges[%d] = %+v; want %+v", i, got.ActiveKeyAges[i], want[i])
		}
	}
	if got.InactiveKeys != 1 {
		t.Errorf("InactiveKeys = %d; want 1", got.InactiveKeys)
	}
	if s := got.KeyAgeStages["human"]; len(s) != 3 || s[0].At != 70 || s[2].Action != policy.ActionDelete {
		t.Errorf("KeyAgeStages[human] = %+v; want the default 70/80/90 stages", s)
	}
	empty := NewInventory(nil, asOf)
	if empty.ActiveKeyAges == nil || empty.KeyAgeStages == nil {
		t.Errorf("NewInventory(nil) = %+v; want empty, non-nil slices and maps", empty)
	}
}
