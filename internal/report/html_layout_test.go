package report

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
)

// wideReport is a realistic report of 78 users in three accounts with long
// aliases: IAM users named by their address (first.last@example-corp.com,
// some much longer), service users with long snake_case names, long
// reasons, tag notes, several recipients, exempt findings, and every
// severity. Five findings are critical; none of them belongs to a user
// that sorts first by name, so the default order must put them first.
func wideReport() *Report {
	generated := time.Date(2026, 11, 23, 8, 5, 0, 0, time.UTC)
	asOf := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	accounts := []Account{
		{ID: "123456789012", Alias: "example-corp-production-workloads-eu-west-1", Status: StatusOK, Users: 40, AccessKeys: 61},
		{ID: "210987654321", Alias: "example-corp-shared-services-and-networking", Status: StatusOK, Users: 25, AccessKeys: 33},
		{ID: "555566667777", Alias: "example_corp_sandbox_data_science_experiments", Status: StatusOK, Users: 13, AccessKeys: 17},
	}
	first := []string{"alexandra", "benjamin", "charlotte", "dmitri", "eleanor", "francesco", "gwendolyn", "hiroshi",
		"isabella", "jean-baptiste", "katarzyna", "leopold", "maximilian", "nathaniel", "oluwaseun"}
	last := []string{"vandenberghe", "okonkwo-adeyemi", "fitzgerald", "nakamura", "abernathy", "rossi", "schwarzenegger",
		"oconnell", "papadopoulos", "wojciechowski", "dubois-lefebvre"}
	var fs []policy.Finding
	add := func(f policy.Finding) {
		f.ID = fmt.Sprintf("%016x", len(fs)+1)
		f.Controls = policy.ControlsOf(f.Rule, false)
		fs = append(fs, f)
	}
	for i := range 78 {
		acct := accounts[i%3]
		var user string
		class := "human"
		switch {
		case i%13 == 5:
			user = fmt.Sprintf("svc_data_pipeline_ingest_%s_batch_%02d", []string{"prod", "staging", "eu_west_1"}[i%3], i)
			class = "machine"
		case i%17 == 3:
			user = fmt.Sprintf("%s.%s-%s@subsidiary-example-corporation.co.uk", first[i%len(first)], last[i%len(last)], last[(i+3)%len(last)])
		default:
			user = fmt.Sprintf("%s.%s@example-corp.com", first[i%len(first)], last[(i*7)%len(last)])
		}
		sev := []string{config.SeverityHigh, config.SeverityMedium, config.SeverityLow, config.SeverityMedium}[i%4]
		age := 60 + (i*37)%400
		f := policy.Finding{
			Account: acct.ID, AccountAlias: acct.Alias, User: user, Class: class,
			Credential: policy.CredentialAccessKey, KeyID: fmt.Sprintf("AKIA%016d", 4000000000000000+i), Slot: 1 + i%2,
			Rule: config.RuleAccessKeyAge, AgeDays: age, StageAt: 90, Action: []string{config.ActionNotify, config.ActionDisable, config.ActionDelete}[i%3],
			Severity: sev, Recipients: []string{user, "security-operations-team@example-corp.com"},
			Reason: fmt.Sprintf("access key %d is %d days old; the policy for class %s allows 90 days and the key has been "+
				"flagged since the previous quarterly review (next stage at %d days)", 1+i%2, age, class, age+10),
		}
		if i%9 == 4 {
			d := config.Date{Time: asOf.AddDate(0, 0, 1+i%20)}
			f.NextStageOn = &d
		}
		if class == "machine" {
			f.ClassFromTag = "UserType=machine, team=data-platform-ingestion"
		}
		if i%19 == 7 {
			f.Exempt, f.ExemptReason = true, "vendor integration rotates its own keys on the first business day of each quarter; ticket SEC-12345"
			f.ExemptFromTag = "keywarden:exempt=true"
		}
		add(f)
		switch {
		case i%16 == 10: // five critical findings, spread over the accounts
			add(policy.Finding{
				Account: acct.ID, AccountAlias: acct.Alias, User: user, Class: class,
				Credential: policy.CredentialAccessKey, KeyID: fmt.Sprintf("AKIA%016d", 5000000000000000+i), Slot: 2,
				Rule: config.RuleAccessKeyUnknownAge, AgeDays: 500 + i, Action: config.ActionNotify, Severity: config.SeverityCritical,
				Recipients: []string{user}, Reason: "access key 2 has no creation date in the credential report; treated as older than every stage",
			})
		case i%5 == 2:
			add(policy.Finding{
				Account: acct.ID, AccountAlias: acct.Alias, User: user, Class: class,
				Credential: policy.CredentialPassword, Rule: config.RulePasswordUnused, AgeDays: 100 + i, StageAt: 90,
				Action: config.ActionRemovePassword, Severity: config.SeverityLow, Recipients: []string{user},
				Reason: fmt.Sprintf("console password not used for %d days (limit 90); it will be removed", 100+i),
			})
		}
	}
	return New(generated, asOf, accounts, fs)
}

// TestWideReportFixture: the fixture is what the layout test claims to test.
func TestWideReportFixture(t *testing.T) {
	r := wideReport()
	users := map[string]bool{}
	sev := map[string]int{}
	for _, f := range r.Findings {
		users[f.User] = true
		sev[f.Severity]++
	}
	if len(users) != 78 || sev[config.SeverityCritical] != 5 || sev[config.SeverityHigh] == 0 || sev[config.SeverityLow] == 0 {
		t.Fatalf("wideReport has %d users and severities %v; want 78 users, 5 critical, some high and low", len(users), sev)
	}
	if r.Findings[0].Severity == config.SeverityCritical {
		t.Fatal("wideReport's first finding in the report's order is critical; the default-sort test would prove nothing")
	}
}

// layoutJS measures the page: whether it scrolls sideways, the elements
// whose right edge is past the viewport's, the tallest table cell, and
// the severities of the first rows.
const layoutJS = `(() => {
	const width = document.documentElement.clientWidth;
	const past = [];
	for (const el of document.querySelectorAll('body *')) {
		const r = el.getBoundingClientRect();
		if (r.width > 0 && r.right > width + 1) {
			past.push(el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className : '') +
				' right=' + Math.round(r.right));
		}
	}
	let tallest = 0, tallestText = '';
	for (const c of document.querySelectorAll('td, th')) {
		const h = c.getBoundingClientRect().height;
		if (h > tallest) { tallest = h; tallestText = (c.parentNode.dataset.user || '') + ': ' + c.parentNode.textContent.slice(0, 300); }
	}
	return {
		width: width,
		scrollWidth: document.scrollingElement.scrollWidth,
		past: past.slice(0, 10),
		pastCount: past.length,
		tallest: tallest,
		tallestText: tallestText,
		first: Array.from(document.querySelectorAll('tr[data-finding]')).slice(0, 5).map(r => r.dataset.severity),
		// Account labels of the findings chart that run under its bars.
		labelOverlap: Array.from(document.querySelectorAll('#chart-by-account g.account')).filter(g => {
			const seg = g.nextElementSibling;
			return seg && seg.classList.contains('seg') && g.querySelector('text').getBoundingClientRect().right > seg.getBoundingClientRect().left;
		}).map(g => g.querySelector('text').textContent),
		// User names that wrap other than after @ . - _ (a line that
		// starts with a character whose predecessor is none of them).
		badWraps: Array.from(document.querySelectorAll('td.user .name')).flatMap(n => {
			const chars = [];
			const walk = document.createTreeWalker(n, NodeFilter.SHOW_TEXT);
			for (let t = walk.nextNode(); t; t = walk.nextNode()) {
				for (let i = 0; i < t.length; i++) {
					const r = document.createRange();
					r.setStart(t, i); r.setEnd(t, i + 1);
					chars.push({c: t.data[i], top: r.getBoundingClientRect().top});
				}
			}
			const bad = [];
			for (let i = 1; i < chars.length; i++) {
				if (chars[i].top > chars[i-1].top + 1 && !'@.-_'.includes(chars[i-1].c)) {
					bad.push(n.textContent.slice(0, i) + '|' + n.textContent.slice(i));
				}
			}
			return bad;
		}).slice(0, 5),
	};
})()`

type pageLayout struct {
	Width       float64  `json:"width"`
	ScrollWidth float64  `json:"scrollWidth"`
	Past        []string `json:"past"`
	PastCount   int      `json:"pastCount"`
	Tallest     float64  `json:"tallest"`
	TallestText string   `json:"tallestText"`
	First       []string `json:"first"`
	BadWraps    []string `json:"badWraps"`
	Overlap     []string `json:"labelOverlap"`
}

// maxCellHeight bounds every table cell, in CSS pixels.
const maxCellHeight = 240

// TestHTMLLayoutInBrowser opens the 78-user report at 600, 1280, 1400 and
// 1920 px: at each width no element reaches past the right edge (a table
// scrolling inside a narrower box would), the page does not scroll
// sideways, no table cell is taller than 240 px, and the five critical
// findings are the first rows; user names wrap only after @ . - _ and the
// chart's account labels end before its bars. Clicking the Severity
// header sorts by rank.
// Screenshots of each width are kept as artifacts.
func TestHTMLLayoutInBrowser(t *testing.T) {
	r := wideReport()
	page := filepath.Join(t.TempDir(), "wide.html")
	if err := os.WriteFile(page, []byte(render(t, r, FormatHTML, Options{})), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, console := browser(t)
	shots := t.ArtifactDir()
	open := func(t *testing.T, width int64) {
		t.Helper()
		do(t, ctx, "open the report at "+strconv.FormatInt(width, 10)+" px",
			chromedp.EmulateViewport(width, 900), chromedp.Navigate("file://"+page), chromedp.WaitReady(chromedp.ID("findings")))
	}
	critical := []string{"critical", "critical", "critical", "critical", "critical"}
	for _, w := range []int64{600, 1024, 1280, 1400, 1920} {
		t.Run(strconv.FormatInt(w, 10), func(t *testing.T) {
			open(t, w)
			m := run(t, ctx, "measure the page", chromedp.Evaluate[pageLayout](layoutJS))
			if m.PastCount > 0 {
				t.Errorf("at %d px, %d elements reach past the right edge (%v px), e.g. %v", w, m.PastCount, m.Width, m.Past)
			}
			if m.ScrollWidth > m.Width {
				t.Errorf("at %d px the page scrolls sideways: scrollWidth %v > clientWidth %v", w, m.ScrollWidth, m.Width)
			}
			if m.Tallest > maxCellHeight {
				t.Errorf("at %d px the tallest cell is %v px (%q); want at most %d", w, m.Tallest, m.TallestText, maxCellHeight)
			}
			if len(m.Overlap) > 0 {
				t.Errorf("at %d px account labels run under the chart's bars: %q", w, m.Overlap)
			}
			if len(m.BadWraps) > 0 {
				t.Errorf("at %d px user names wrap inside a word (at |): %q", w, m.BadWraps)
			}
			if !slices.Equal(m.First, critical) {
				t.Errorf("at %d px the first rows' severities are %v; want the five critical findings first", w, m.First)
			}
			// Two screens: the top, and the first findings.
			for _, shot := range []struct{ name, scroll string }{
				{"top", `window.scrollTo(0, 0); true`},
				{"findings", `document.getElementById('status').scrollIntoView(); true`},
			} {
				run(t, ctx, "scroll", chromedp.Evaluate[bool](shot.scroll))
				png := run(t, ctx, "screenshot", chromedp.CaptureScreenshot())
				if err := os.WriteFile(filepath.Join(shots, fmt.Sprintf("wide-%d-%s.png", w, shot.name)), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}

	// Printed on A4 or Letter in portrait with 12 mm margins the page is
	// about 700 px wide: findings print as cards, within the page.
	t.Run("print", func(t *testing.T) {
		open(t, 700)
		if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
			t.Fatalf("emulate print media: %v", err)
		}
		defer func() {
			_, _ = chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: ""})
		}()
		m := run(t, ctx, "measure the page", chromedp.Evaluate[pageLayout](layoutJS))
		if m.PastCount > 0 || m.ScrollWidth > m.Width {
			t.Errorf("printed, %d elements reach past the right edge (%v px; scrollWidth %v), e.g. %v", m.PastCount, m.Width, m.ScrollWidth, m.Past)
		}
		if m.Tallest > maxCellHeight {
			t.Errorf("printed, the tallest cell is %v px (%q); want at most %d", m.Tallest, m.TallestText, maxCellHeight)
		}
		if len(m.BadWraps) > 0 {
			t.Errorf("printed, user names wrap inside a word (at |): %q", m.BadWraps)
		}
		png := run(t, ctx, "print screenshot", chromedp.CaptureScreenshot())
		if err := os.WriteFile(filepath.Join(shots, "wide-print-700.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	})

	// A click on Severity sorts by rank, lowest first; a second, highest
	// first: the five critical findings lead again.
	t.Run("sort by severity", func(t *testing.T) {
		ranks := func() []int {
			return run(t, ctx, "read ranks", chromedp.Evaluate[[]int](
				`Array.from(document.querySelectorAll('tr[data-finding]')).map(r => Number(r.dataset.sev))`))
		}
		open(t, 1280)
		do(t, ctx, "click Severity", chromedp.Click(chromedp.CSS(`button[data-sort="sev"]`)))
		low, crit := policy.SeverityRank(config.SeverityLow), policy.SeverityRank(config.SeverityCritical)
		up := ranks()
		if !slices.IsSorted(up) || up[0] != low || up[len(up)-1] != crit {
			t.Errorf("after a click on Severity the ranks are %v; want low (%d) to critical (%d)", up, low, crit)
		}
		do(t, ctx, "click Severity again", chromedp.Click(chromedp.CSS(`button[data-sort="sev"]`)))
		down := ranks()
		high := policy.SeverityRank(config.SeverityHigh)
		if !slices.IsSortedFunc(down, func(a, b int) int { return b - a }) || !slices.Equal(down[:6], []int{crit, crit, crit, crit, crit, high}) {
			t.Errorf("after a second click the ranks are %v; want the five critical (%d) first, then descending", down, crit)
		}
	})
	t.Logf("screenshots in %s", shots)
	for _, m := range console() {
		if m.Type == chromedp.ConsoleError || m.IsException() || m.Type == chromedp.ConsoleWarning {
			t.Errorf("console %s: %s", m.Type, m.Text)
		}
	}
}

// complianceLayoutJS measures the compliance section: elements past the
// right edge, the page's scroll width, each control row's ID, status
// class, status text and height, and the controls shown under the rule
// of each finding.
const complianceLayoutJS = `(() => {
	const width = document.documentElement.clientWidth;
	const past = [];
	for (const el of document.querySelectorAll('.compliance, .compliance *')) {
		const r = el.getBoundingClientRect();
		if (r.width > 0 && r.right > width + 1) past.push(el.tagName.toLowerCase() + '.' + el.className + ' right=' + Math.round(r.right));
	}
	const table = document.getElementById('controls').getBoundingClientRect();
	return {
		width: width,
		scrollWidth: document.scrollingElement.scrollWidth,
		past: past.slice(0, 10),
		tableRight: table.right,
		rows: Array.from(document.querySelectorAll('#controls tbody tr')).map(r => ({
			id: r.dataset.control,
			status: r.querySelector('.ctl').className,
			text: r.querySelector('.ctl').textContent,
			height: r.getBoundingClientRect().height,
		})),
		controls: Object.fromEntries(Array.from(document.querySelectorAll('tr[data-finding]')).map(r =>
			[r.dataset.finding, (r.querySelector('td.rule .controls') || {textContent: ''}).textContent])),
		headerShown: document.querySelector('#controls thead').getBoundingClientRect().height,
	};
})()`

type complianceLayout struct {
	Width       float64  `json:"width"`
	ScrollWidth float64  `json:"scrollWidth"`
	Past        []string `json:"past"`
	TableRight  float64  `json:"tableRight"`
	Rows        []struct {
		ID     string  `json:"id"`
		Status string  `json:"status"`
		Text   string  `json:"text"`
		Height float64 `json:"height"`
	} `json:"rows"`
	Controls    map[string]string `json:"controls"`
	HeaderShown float64           `json:"headerShown"`
}

// TestHTMLComplianceInBrowser opens complianceReport at 600 and 1280 px
// and checks the compliance section from the DOM: it stays within the
// page (nothing past the right edge, no sideways scroll), it remains a
// table with its header, every control is a row in policy.Controls'
// order whose status reads as a mark and a word (not color alone:
// ✓ Passed, ✗ Failed, – Not checked), a row is at most three lines tall
// at 1280 px and at most 160 px at 600, and each finding shows its
// controls under its rule. Screenshots compliance-WIDTH.png and
// findings-WIDTH.png are kept.
func TestHTMLComplianceInBrowser(t *testing.T) {
	r := complianceReport()
	page := filepath.Join(t.TempDir(), "compliance.html")
	if err := os.WriteFile(page, []byte(render(t, r, FormatHTML, Options{})), 0o644); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, c := range r.Compliance {
		want[c.ID] = map[string]string{ControlPassed: "✓ Passed", ControlFailed: "✗ Failed", ControlNotChecked: "– Not checked"}[c.Status]
	}
	ctx, console := browser(t)
	shots := t.ArtifactDir()
	for _, w := range []int64{600, 1280} {
		t.Run(strconv.FormatInt(w, 10), func(t *testing.T) {
			do(t, ctx, "open the report", chromedp.EmulateViewport(w, 900), chromedp.Navigate("file://"+page),
				chromedp.WaitReady(chromedp.ID("controls")))
			m := run(t, ctx, "measure the compliance section", chromedp.Evaluate[complianceLayout](complianceLayoutJS))
			if len(m.Past) > 0 || m.ScrollWidth > m.Width || m.TableRight > m.Width {
				t.Errorf("at %d px the compliance section passes the right edge (%v px; table ends at %v, scrollWidth %v): %v",
					w, m.Width, m.TableRight, m.ScrollWidth, m.Past)
			}
			if m.HeaderShown == 0 {
				t.Errorf("at %d px the compliance table's header is hidden; want a table", w)
			}
			if len(m.Rows) != len(policy.Controls) {
				t.Fatalf("at %d px the compliance table has %d rows; want %d", w, len(m.Rows), len(policy.Controls))
			}
			maxHeight := 3*20.3 + 14 // three lines of 14 px text at 1.45, and the cell's padding
			if w == 600 {
				maxHeight = 160
			}
			for i, row := range m.Rows {
				if row.ID != policy.Controls[i].ID {
					t.Errorf("at %d px row %d is %s; want %s", w, i, row.ID, policy.Controls[i].ID)
				}
				if row.Text != want[row.ID] {
					t.Errorf("at %d px %s reads %q; want %q", w, row.ID, row.Text, want[row.ID])
				}
				if row.Height > maxHeight {
					t.Errorf("at %d px the row of %s is %v px tall; want at most %v", w, row.ID, row.Height, maxHeight)
				}
			}
			for _, f := range r.Findings {
				if got, wantC := m.Controls[f.ID], strings.Join(f.Controls, " · "); got != wantC {
					t.Errorf("at %d px finding %s shows controls %q under its rule; want %q", w, f.ID, got, wantC)
				}
			}
			// Two screens: the compliance table, and the findings of the
			// new credential kinds.
			for _, shot := range []struct{ name, scroll string }{
				{"compliance", `document.getElementById('controls').scrollIntoView(); true`},
				{"findings", `document.getElementById('status').scrollIntoView(); true`},
			} {
				run(t, ctx, "scroll", chromedp.Evaluate[bool](shot.scroll))
				png := run(t, ctx, "screenshot", chromedp.CaptureScreenshot())
				if err := os.WriteFile(filepath.Join(shots, fmt.Sprintf("%s-%d.png", shot.name, w)), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	t.Logf("screenshots in %s", shots)
	for _, m := range console() {
		if m.Type == chromedp.ConsoleError || m.IsException() || m.Type == chromedp.ConsoleWarning {
			t.Errorf("console %s: %s", m.Type, m.Text)
		}
	}
}
