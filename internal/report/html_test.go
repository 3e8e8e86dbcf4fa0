package report

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/forecast"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/policy"
)

// hostileUser is a user name that runs script if the HTML report fails to
// escape it: as an element, as an attribute breakout and as an event
// handler. The browser test checks that window.pwned stays unset.
const hostileUser = `<script>window.pwned=1</script><img src=x onerror="window.pwned=2">"' onmouseover=window.pwned=3 x='`

// hostileAlias is an account alias, and hostileError a failed account's
// error, that run script if the HTML report fails to escape them. Both
// hold control and bidi characters, as does bidiUser, whose key starts to
// break a rule in the calendar's window: the report shows each as U+FFFD
// (the *Shown strings).
const (
	hostileAlias      = `prod<img src=x onerror="window.pwned=5">` + "\u202e\x1b[31m" + "main"
	hostileAliasShown = `prod<img src=x onerror="window.pwned=5">` + "\uFFFD\uFFFD[31m" + "main"
	hostileError      = `AccessDenied: <b>not authorized</b>` + "\n\u2066" + `<img src=x onerror="window.pwned=6"> to perform sts:AssumeRole`
	hostileErrorShown = `AccessDenied: <b>not authorized</b>` + "\uFFFD\uFFFD" + `<img src=x onerror="window.pwned=6"> to perform sts:AssumeRole`
	bidiUser          = "mallory\u202e\u0007nimda"
	bidiUserShown     = "mallory\uFFFD\uFFFDnimda"
)

// htmlReport is sampleReport plus findings whose user names are hostile,
// with next stages inside the calendar window, one (Zoe) whose capital
// sorts it first by bytes but last by name, and one (svc-batch) whose
// next stage is after the window; account 111111111111 has the hostile
// alias, and the failed account 222222222222 the hostile error.
func htmlReport() *Report {
	r := sampleReport()
	accounts := slices.Clone(r.Accounts)
	for i := range accounts {
		switch accounts[i].ID {
		case "111111111111":
			accounts[i].Alias = hostileAlias
		case "222222222222":
			accounts[i].Error = hostileError
		}
	}
	fs := append([]policy.Finding(nil), r.Findings...)
	for i := range fs {
		if fs[i].AccountAlias != "" {
			fs[i].AccountAlias = hostileAlias
		}
	}
	fs = append(fs,
		policy.Finding{
			ID: "beefbeefbeef0001", Account: "111111111111", AccountAlias: hostileAlias, User: hostileUser, Class: "human",
			Credential: policy.CredentialAccessKey, KeyID: "AKIAHOSTILE000000001", Slot: 1,
			Rule: config.RuleAccessKeyAge, AgeDays: 72, StageAt: 70, Action: config.ActionNotify, Severity: config.SeverityMedium,
			NextStageOn: datep("2026-12-01"), Recipients: []string{"x@example.com"},
			Reason: `access key 1 is 72 days old </td></tr><script>window.pwned=4</script>`,
		},
		policy.Finding{
			ID: "beefbeefbeef0002", Account: "111111111111", AccountAlias: hostileAlias, User: "Zoe", Class: "human",
			Credential: policy.CredentialAccessKey, KeyID: "AKIAZOE0000000000001", Slot: 1,
			Rule: config.RuleAccessKeyAge, AgeDays: 78, StageAt: 70, Action: config.ActionNotify, Severity: config.SeverityMedium,
			NextStageOn: datep("2026-11-25"), Reason: "access key 1 is 78 days old",
		},
		policy.Finding{
			ID: "5bc0ba7c00000001", Account: "111111111111", AccountAlias: hostileAlias, User: "svc-batch", Class: "service",
			Credential: policy.CredentialAccessKey, KeyID: "AKIASVCBATCH00000001", Slot: 1,
			Rule: config.RuleAccessKeyAge, AgeDays: 100, StageAt: 90, Action: config.ActionNotify, Severity: config.SeverityHigh,
			NextStageOn: datep("2027-01-20"), Reason: "access key 1 is 100 days old (next stage at 180 days)",
		},
	)
	out := New(r.GeneratedAt, r.AsOf, accounts, fs)
	inv := *r.Inventory
	// The two findings' next stages, as the forecast lists them.
	inv.Upcoming = append(slices.Clone(inv.Upcoming),
		upcomingAt("2026-11-25T07:00:00Z", forecast.Event{Change: forecast.ChangeStage, FindingID: "beefbeefbeef0002", User: "Zoe", Class: "human",
			KeyID: "AKIAZOE0000000000001", StageAt: 80, Action: config.ActionDisable, Severity: config.SeverityHigh, Reason: "access key 1 is 80 days old"}),
		upcomingAt("2026-12-01T12:00:00Z", forecast.Event{Change: forecast.ChangeStage, FindingID: "beefbeefbeef0001", User: hostileUser, Class: "human",
			KeyID: "AKIAHOSTILE000000001", StageAt: 80, Action: config.ActionDisable, Severity: config.SeverityHigh, Reason: "access key 1 is 80 days old"}),
		upcomingAt("2026-12-03T10:00:00Z", forecast.Event{Change: forecast.ChangeNew, FindingID: "b1d1b1d1b1d10001", User: bidiUser, Class: "human",
			StageAt: 70, Action: config.ActionNotify, Severity: config.SeverityMedium, Reason: "access key 1 is 70 days old"}),
	)
	out.Inventory = &inv
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
// markup — user names, reasons, the account alias, a failed account's
// error; it appears only escaped, wherever the page shows it.
func TestHTMLEscapesIAMText(t *testing.T) {
	out := render(t, htmlReport(), FormatHTML, Options{})
	for _, bad := range []string{"<script>window.pwned", "<script>alert", "<img src=x", `onerror="window`, "</td></tr><script>", "<b>not authorized"} {
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
	alias := "111111111111 (prod&lt;img src=x onerror=&#34;window.pwned=5&#34;&gt;\uFFFD\uFFFD[31mmain)"
	failed := "<li><strong>222222222222</strong> (staging): AccessDenied: &lt;b&gt;not authorized&lt;/b&gt;\uFFFD\uFFFD" +
		"&lt;img src=x onerror=&#34;window.pwned=6&#34;&gt; to perform sts:AssumeRole</li>"
	for _, want := range []struct{ where, re string }{
		{"the failed accounts", regexp.QuoteMeta(failed)},
		{"an account cell", regexp.QuoteMeta(`<td data-label="Account" class="account"><div>111111111111<span class="alias"> (` +
			"prod&lt;img src=x onerror=&#34;window.<wbr>pwned=5&#34;&gt;\uFFFD\uFFFD[31mmain)</span></div></td>")},
		{"the account filter", regexp.QuoteMeta(`<option value="111111111111">` + alias + `</option>`)},
		{"the chart's bar label", `<g class="account"><title>` + regexp.QuoteMeta(alias) + `</title><text class="label" x="0" y="[0-9.]+">` +
			regexp.QuoteMeta("111111111111 (prod&lt;img sr…") + `</text>`},
		{"the chart's segment titles", `<title>` + regexp.QuoteMeta(alias+", access_key_age: ")},
	} {
		if !regexp.MustCompile(want.re).MatchString(out) {
			t.Errorf("%s: HTML report lacks the escaped text (%s)", want.where, want.re)
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
	// build-bot's next stage is 2026-11-28, Zoe's 2026-11-25, the hostile
	// user's 2026-12-01: one finding on each of those days.
	for _, d := range []string{"2026-11-25", "2026-11-28", "2026-12-01"} {
		if !strings.Contains(out, `data-date="`+d+`" data-count="1"`) {
			t.Errorf("calendar day %s does not count 1 finding", d)
		}
	}
}

// TestHTMLReplacesControlCharacters: control and bidi characters from IAM
// become U+FFFD everywhere the page shows them — the table, the failed
// accounts, the chart labels, the calendar's titles — so none reaches the
// page, where it could reorder the text around it or hide.
func TestHTMLReplacesControlCharacters(t *testing.T) {
	out := render(t, htmlReport(), FormatHTML, Options{})
	for i, c := range out {
		if c != '\n' && isUnsafeRune(c) {
			t.Errorf("HTML report holds %U at byte %d: %q", c, i, out[max(i-60, 0):min(i+20, len(out))])
		}
	}
	for _, want := range []struct{ where, text string }{
		{"the failed accounts", "\uFFFD\uFFFD&lt;img src=x onerror=&#34;window.pwned=6&#34;&gt; to perform"},
		{"the chart's bar label", `<g class="account"><title>111111111111 (prod&lt;img src=x onerror=&#34;window.pwned=5&#34;&gt;` + "\uFFFD\uFFFD[31mmain)</title>"},
		{"the calendar", "<title>2026-12-03: 1 stage change: " + bidiUserShown + " (access_key_age: notify, starts)</title>"},
		{"the table", `<span class="alias"> (prod&lt;img src=x onerror=&#34;window.<wbr>pwned=5&#34;&gt;` + "\uFFFD\uFFFD[31mmain)</span>"},
	} {
		if !strings.Contains(out, want.text) {
			t.Errorf("%s: HTML report lacks %q", want.where, want.text)
		}
	}
}

// TestHTMLCalendarLater: the caption counts the findings whose next stage
// is after the calendar's last day.
func TestHTMLCalendarLater(t *testing.T) {
	out := render(t, htmlReport(), FormatHTML, Options{})
	want := `<span id="calendar-later" data-later="1">1 more finding reaches its next stage after 2026-12-22</span>`
	if !strings.Contains(out, want) {
		t.Errorf("calendar caption lacks %s", want)
	}
	if out := render(t, sampleReport(), FormatHTML, Options{}); strings.Contains(out, `id="calendar-later"`) {
		t.Error("calendar caption counts findings after the window; sampleReport has none")
	}
}

// calendarDay is one day of the HTML calendar as rendered.
type calendarDay struct {
	count     int
	clickable bool
	title     string
}

var calendarDayRE = regexp.MustCompile(`<g class="day l\d" data-date="(\d{4}-\d\d-\d\d)" data-count="(\d+)"( tabindex="0" role="button")?><title>([^<]*)</title>`)

// calendarDays reads the calendar of an HTML report, by date.
func calendarDays(t *testing.T, html string) map[string]calendarDay {
	t.Helper()
	days := map[string]calendarDay{}
	for _, m := range calendarDayRE.FindAllStringSubmatch(html, -1) {
		n, _ := strconv.Atoi(m[2])
		days[m[1]] = calendarDay{n, m[3] != "", m[4]}
	}
	if len(days) != UpcomingDays {
		t.Fatalf("read %d calendar days; want %d", len(days), UpcomingDays)
	}
	return days
}

// TestHTMLCalendarCountsUpcoming: the calendar counts the inventory's
// upcoming stage changes that are not exempt — keys that start to break a
// rule, second stages, exemptions that end — and only a day with a
// finding whose next stage it is can be clicked (it filters the table).
func TestHTMLCalendarCountsUpcoming(t *testing.T) {
	days := calendarDays(t, render(t, htmlReport(), FormatHTML, Options{}))
	want := map[string]calendarDay{
		"2026-11-25": {1, true, "2026-11-25: 1 stage change: Zoe (access_key_age: disable)"},
		"2026-11-26": {1, false, "2026-11-26: 1 stage change: dana (access_key_age: notify, starts)"},
		"2026-11-28": {1, true, "2026-11-28: 1 stage change: build-bot (access_key_age: notify)"},
		"2026-11-30": {0, false, "2026-11-30: no stage changes"}, // vendor's, while exempt
		"2026-12-02": {1, false, "2026-12-02: 1 stage change: contractor (access_key_age: disable, exemption ends)"},
		"2026-12-03": {1, false, "2026-12-03: 1 stage change: " + bidiUserShown + " (access_key_age: notify, starts)"},
		"2026-12-06": {1, false, "2026-12-06: 1 stage change: dana (access_key_age: disable)"},
	}
	for date, day := range days {
		w, ok := want[date]
		if date == "2026-12-01" { // the hostile user's: checked by the escaping tests
			w, ok = day, true
			if day.count != 1 || !day.clickable {
				t.Errorf("calendar %s = %+v; want 1 stage change, clickable", date, day)
			}
		}
		if !ok {
			w = calendarDay{0, false, date + ": no stage changes"}
		}
		if day != w {
			t.Errorf("calendar %s = %+v; want %+v", date, day, w)
		}
	}
}

// TestHTMLCalendarIsTheForecast: the calendar of the example credential
// report, scanned as `keywarden scan` does, counts exactly what `keywarden
// forecast` lists for the same 30 days: 13 stage changes (counting only
// next_stage_on, it showed 4).
func TestHTMLCalendarIsTheForecast(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "examples", "credential-report.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr, err := inventory.ParseCredentialReport(f)
	if err != nil {
		t.Fatal(err)
	}
	snap := &inventory.Snapshot{AccountID: cr.AccountID, Users: cr.Users, Root: cr.Root}
	cfg, asOf := config.Default(), time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	r := New(asOf, asOf, []Account{{ID: snap.AccountID, Status: StatusOK}}, policy.Evaluate(snap, cfg, asOf))
	r.Inventory = NewInventory(cfg, asOf, snap)

	want := map[string]int{}
	total := 0
	for _, e := range forecast.New([]*inventory.Snapshot{snap}, cfg, asOf, asOf, UpcomingDays).Events {
		if !e.Exempt {
			want[e.On.String()]++
			total++
		}
	}
	if total != 15 {
		t.Fatalf("the example's forecast has %d stage changes in 30 days; want the 15 keywarden forecast lists", total)
	}
	got := 0
	for date, day := range calendarDays(t, render(t, r, FormatHTML, Options{})) {
		got += day.count
		if day.count != want[date] {
			t.Errorf("calendar %s counts %d (%s); want %d, as the forecast", date, day.count, day.title, want[date])
		}
	}
	if got != total {
		t.Errorf("calendar counts %d stage changes; want %d", got, total)
	}
}

// TestNewInventoryUpcoming: Upcoming is the forecast of the snapshots for
// the 30 days that start with as_of's date, exempt changes included: a
// change after the last of those days is left out even when it is within
// 30×24 hours of as_of.
func TestNewInventoryUpcoming(t *testing.T) {
	asOf := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	key := func(name string, reaches70 time.Time) inventory.User {
		return inventory.User{Name: name, CreatedAt: at(t, "2025-01-01T00:00:00Z"), AccessKeys: []inventory.AccessKey{
			{Slot: 1, Active: true, CreatedAt: reaches70.Add(-70 * 24 * time.Hour), LastUsedAt: asOf.Add(-time.Hour)},
		}}
	}
	snap := &inventory.Snapshot{AccountID: "111111111111", Users: []inventory.User{
		key("last-day", at(t, "2026-12-22T23:00:00Z")),
		key("day-after", at(t, "2026-12-23T02:00:00Z")), // before asOf + 30 × 24 h, after the last day
		key("exempt", at(t, "2026-11-24T10:00:00Z")),
	}}
	cfg := config.Default()
	cfg.Exemptions = []config.Exemption{{Users: []string{"exempt"}, Reason: "test"}}
	var got []string
	for _, e := range NewInventory(cfg, asOf, snap).Upcoming {
		got = append(got, fmt.Sprintf("%s %s %s %d exempt=%v", e.At.Format(time.RFC3339), e.User, e.Change, e.StageAt, e.Exempt))
	}
	want := []string{
		"2026-11-24T10:00:00Z exempt new 70 exempt=true",
		"2026-12-04T10:00:00Z exempt stage 80 exempt=true",
		"2026-12-14T10:00:00Z exempt stage 90 exempt=true",
		"2026-12-22T23:00:00Z last-day new 70 exempt=false",
	}
	if !slices.Equal(got, want) {
		t.Errorf("NewInventory().Upcoming = %q; want %q", got, want)
	}
	if inv := NewInventory(nil, asOf); inv.Upcoming == nil || len(inv.Upcoming) != 0 {
		t.Errorf("NewInventory(no config).Upcoming = %#v; want empty, not nil", inv.Upcoming)
	}
}

func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
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
	got := NewInventory(config.Default(), asOf, snap, nil, other)
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
	if s := got.KeyAgeStages["human"]; len(s) != 3 || s[0].At != 70 || s[2].Action != config.ActionDelete {
		t.Errorf("KeyAgeStages[human] = %+v; want the default 70/80/90 stages", s)
	}
	empty := NewInventory(nil, asOf)
	if empty.ActiveKeyAges == nil || empty.KeyAgeStages == nil {
		t.Errorf("NewInventory(nil) = %+v; want empty, non-nil slices and maps", empty)
	}
}

// TestReportDoesNotImportAWSSDK: report (and forecast, which it calls for
// the calendar) stay free of the AWS SDK, even transitively.
func TestReportDoesNotImportAWSSDK(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "/internal/forecast\n") {
		t.Fatalf("go list -deps = %v; want the report's dependencies, forecast among them:\n%s", err, out)
	}
	for d := range strings.FieldsSeq(string(out)) {
		if strings.HasPrefix(d, "github.com/aws/") {
			t.Errorf("internal/report depends on %s; want no AWS SDK (CONTRIBUTING.md: report never imports it)", d)
		}
	}
}

// TestHTMLWbr: a name may wrap after @ . - _ and / (a <wbr> after each, not
// after the last character), and stays escaped: wbr writes markup only as
// <wbr>.
func TestHTMLWbr(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"first.last@example-corp.com", "first.<wbr>last@<wbr>example-<wbr>corp.<wbr>com"},
		{"svc_batch_", "svc_<wbr>batch_"},
		{"alice", "alice"},
		{"", ""},
		{`<img src=x onerror="a.b">`, `&lt;img src=x onerror=&#34;a.<wbr>b&#34;&gt;`},
		{"a&b/c", "a&amp;b/<wbr>c"},
	} {
		if got := string(wbr(c.in)); got != c.want {
			t.Errorf("wbr(%q) = %q; want %q", c.in, got, c.want)
		}
	}
	// In the page: the user and the recipients.
	out := render(t, wideReport(), FormatHTML, Options{})
	for _, want := range []string{
		`<span class="name">alexandra.<wbr>vandenberghe@<wbr>example-<wbr>corp.<wbr>com</span>`,
		`To: alexandra.<wbr>vandenberghe@<wbr>example-<wbr>corp.<wbr>com, security-<wbr>operations-<wbr>team@<wbr>example-<wbr>corp.<wbr>com</span>`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("HTML report lacks %s", want)
		}
	}
}

// TestHTMLCards: a scan changes nothing, so no card says actions are
// planned; one counts the findings at a stage that acts, by action, and
// says the scan was read-only.
func TestHTMLCards(t *testing.T) {
	out := render(t, sampleReport(), FormatHTML, Options{})
	if strings.Contains(strings.ToLower(out), "planned") {
		t.Error("the HTML report of a scan speaks of planned actions; a scan changes nothing")
	}
	want := `<div class="card"><div class="card-label">At an action stage</div><div class="card-value">1</div>` +
		`<div class="card-detail">1 delete; read-only scan: nothing changed</div></div>`
	if !strings.Contains(out, want) {
		t.Errorf("HTML report lacks the card %s", want)
	}
}

// TestHTMLRowOrder: the table lists the most severe findings first and,
// within a severity, the oldest first; ties keep the report's order.
func TestHTMLRowOrder(t *testing.T) {
	var got []string
	for _, row := range htmlRows(sampleReport()) {
		got = append(got, row.Severity+" "+strconv.Itoa(row.AgeDays)+" "+row.ID)
	}
	want := []string{
		"critical 700 9999aaaabbbbcccc", "critical 400 d15ab1ed00c1e9ac",
		"high 93 e7e7e7e7a1b2c3d4", "high 91 3f9c1a7be2d04c11", "high 85 c0ffee0012345678", "high 0 0a0b0c0d0e0f1011",
		"medium 50 8b2e4d6f10a3c5e7", "low 120 1234abcd5678ef90",
	}
	if !slices.Equal(got, want) {
		t.Errorf("HTML rows = %q; want %q", got, want)
	}
}
