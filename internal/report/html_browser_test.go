package report

import (
	"cmp"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/testenv"
)

// browser starts headless Chromium with a fresh profile and no background
// networking, and returns a tab context and the console messages the page
// writes (collected until the test ends).
func browser(t *testing.T) (context.Context, func() []chromedp.ConsoleMessage) {
	t.Helper()
	// The tab has started (testenv.Browser): the console subscription
	// below sees every message of the report page.
	tctx := testenv.Browser(t)
	var (
		mu   sync.Mutex
		msgs []chromedp.ConsoleMessage
	)
	cctx, ccancel := context.WithCancel(tctx)
	done := make(chan struct{})
	messages := chromedp.Console(cctx)
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			mu.Lock()
			msgs = append(msgs, m)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { ccancel(); <-done })
	return tctx, func() []chromedp.ConsoleMessage {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(msgs)
	}
}

func run[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// expect evaluates js, an object literal, in the page and checks each of
// want's keys against it; what names the page part in failures.
func expect[T comparable](t *testing.T, ctx context.Context, what, js string, want map[string]T) {
	t.Helper()
	got := run(t, ctx, "read "+what, chromedp.Evaluate[map[string]T](js))
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s %s = %v; want %v (all: %v)", what, k, got[k], v, got)
		}
	}
}

// visible lists the data-finding IDs of the rows shown, in table order.
const visibleJS = `Array.from(document.querySelectorAll('tr[data-finding]')).filter(r => !r.hidden).map(r => r.dataset.finding)`

// TestHTMLInBrowser opens the HTML report in headless Chromium: no console
// errors, one rendered row per finding, the three charts drawn, sorting
// (numbers, severity, names) and filtering (chart clicks, chips, the Stage
// filter, the user search) by clicking, hostile IAM text kept as text, the
// calendar's count of later stages, the print layout and a usable phone
// layout; it writes desktop, print and phone screenshots as artifacts.
func TestHTMLInBrowser(t *testing.T) {
	r := htmlReport()
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, []byte(render(t, r, FormatHTML, Options{})), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, console := browser(t)
	do(t, ctx, "open the report",
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate("file://"+page),
		chromedp.WaitReady(chromedp.ID("findings")),
	)

	ids := func() []string { return run(t, ctx, "list visible rows", chromedp.Evaluate[[]string](visibleJS)) }
	ofReport := func(keep func(f *policy.Finding) bool) []string {
		var out []string
		for i := range r.Findings {
			if keep(&r.Findings[i]) {
				out = append(out, r.Findings[i].ID)
			}
		}
		return out
	}
	all := ofReport(func(*policy.Finding) bool { return true })
	// The page's first order: most severe first, then oldest first; ties
	// keep the report's order.
	bySeverity := slices.Clone(r.Findings)
	slices.SortStableFunc(bySeverity, func(a, b policy.Finding) int {
		return cmp.Or(cmp.Compare(policy.SeverityRank(b.Severity), policy.SeverityRank(a.Severity)), cmp.Compare(b.AgeDays, a.AgeDays))
	})
	var defaultOrder []string
	for _, f := range bySeverity {
		defaultOrder = append(defaultOrder, f.ID)
	}

	t.Run("rows", func(t *testing.T) {
		if got := ids(); !slices.Equal(got, defaultOrder) {
			t.Errorf("rendered rows = %v; want the %d findings by severity, then age, %v", got, len(all), defaultOrder)
		}
		sort := run(t, ctx, "read aria-sort", chromedp.Evaluate[string](
			`document.querySelector('button[data-sort="sev"]').parentNode.getAttribute('aria-sort')`))
		if sort != "descending" {
			t.Errorf("Severity header aria-sort = %q at first; want descending (the rows' order)", sort)
		}
	})

	t.Run("charts", func(t *testing.T) {
		// Busy days: the seven days of htmlReport's upcoming stage changes
		// that are not exempt.
		expect(t, ctx, "chart", `({
			bars: document.querySelectorAll('#chart-key-age rect.bar').length,
			marks: document.querySelectorAll('#chart-key-age .mark').length,
			segs: document.querySelectorAll('#chart-by-account rect.seg').length,
			days: document.querySelectorAll('#chart-calendar .day').length,
			busy: document.querySelectorAll('#chart-calendar .day[data-count]:not([data-count="0"])').length,
			drawn: Array.from(document.querySelectorAll('svg')).filter(s => s.getBoundingClientRect().width > 300).length,
		})`, map[string]int{"bars": 13, "marks": 3, "segs": 6, "days": 30, "busy": 7, "drawn": 3})
	})

	t.Run("hostile names stay text", func(t *testing.T) {
		pwned := run(t, ctx, "read window.pwned", chromedp.Evaluate[string](`String(window.pwned)`))
		if pwned != "undefined" {
			t.Errorf("window.pwned = %s; want undefined (a user name ran as script)", pwned)
		}
		got := run(t, ctx, "read the hostile cell", chromedp.Evaluate[map[string]string](`({
			user: document.querySelector('tr[data-finding="beefbeefbeef0001"] td.user .name').textContent,
			attr: document.querySelector('tr[data-finding="beefbeefbeef0001"]').dataset.user,
			injected: String(document.querySelectorAll('tbody script, tbody img, svg script').length),
		})`))
		if got["user"] != hostileUser || got["attr"] != hostileUser {
			t.Errorf("hostile user cell = %q, data-user = %q; want the name as text %q", got["user"], got["attr"], hostileUser)
		}
		if got["injected"] != "0" {
			t.Errorf("elements injected into the table: %s; want 0", got["injected"])
		}
	})

	t.Run("hostile alias and error stay text", func(t *testing.T) {
		// As text, and no element made of it.
		alias := "111111111111 (" + hostileAliasShown + ")"
		expect(t, ctx, "hostile text", `({
			failed: document.querySelector('.failed li').textContent,
			cell: document.querySelector('tr[data-finding="beefbeefbeef0001"] td[data-label="Account"]').textContent,
			label: document.querySelector('#chart-by-account g.account title').textContent,
			short: document.querySelector('#chart-by-account text.label').textContent,
			option: document.querySelector('select[data-filter="account"] option[value="111111111111"]').textContent,
			images: String(document.images.length),
			scripts: String(document.scripts.length),
			bold: String(document.querySelectorAll('.failed b').length),
			calendar: document.querySelector('#chart-calendar .day[data-date="2026-12-03"] title').textContent,
		})`, map[string]string{
			"calendar": "2026-12-03: 1 stage change: " + bidiUserShown + " (access_key_age: notify, starts)",
			"failed":   "222222222222 (staging): " + hostileErrorShown,
			"cell":     alias, "label": alias, "option": alias, "short": "111111111111 (prod<img sr…",
			"images": "0", "scripts": "1", "bold": "0",
		})
	})

	t.Run("sort by clicking", func(t *testing.T) {
		ages := func() []int {
			return run(t, ctx, "read ages", chromedp.Evaluate[[]int](
				`Array.from(document.querySelectorAll('tr[data-finding]')).map(r => Number(r.dataset.age))`))
		}
		do(t, ctx, "click Age", chromedp.Click(chromedp.CSS(`button[data-sort="age"]`)))
		if got := ages(); !slices.IsSorted(got) {
			t.Errorf("after one click on Age, ages = %v; want ascending", got)
		}
		do(t, ctx, "click Age again", chromedp.Click(chromedp.CSS(`button[data-sort="age"]`)))
		got := ages()
		if !slices.IsSortedFunc(got, func(a, b int) int { return cmp.Compare(b, a) }) {
			t.Errorf("after two clicks on Age, ages = %v; want descending", got)
		}
		sort := run(t, ctx, "read aria-sort", chromedp.Evaluate[string](
			`document.querySelector('button[data-sort="age"]').parentNode.getAttribute('aria-sort')`))
		if sort != "descending" {
			t.Errorf("Age header aria-sort = %q; want descending", sort)
		}
		// Severity, by rank (not by name, which would put critical before
		// high before low before medium): lowest first, then highest
		// first, which is the page's first order.
		sevs := func() []string {
			return run(t, ctx, "read severities", chromedp.Evaluate[[]string](
				`Array.from(document.querySelectorAll('tr[data-finding]')).map(r => r.dataset.severity)`))
		}
		do(t, ctx, "click Severity", chromedp.Click(chromedp.CSS(`button[data-sort="sev"]`)))
		up := []string{config.SeverityLow, config.SeverityMedium, config.SeverityMedium, config.SeverityMedium,
			config.SeverityHigh, config.SeverityHigh, config.SeverityHigh, config.SeverityHigh, config.SeverityHigh,
			config.SeverityCritical, config.SeverityCritical}
		if got := sevs(); !slices.Equal(got, up) {
			t.Errorf("sorted by severity ascending = %v; want by rank %v", got, up)
		}
		do(t, ctx, "click Severity again", chromedp.Click(chromedp.CSS(`button[data-sort="sev"]`)))
		if got := ids(); !slices.Equal(got, defaultOrder) {
			t.Errorf("sorted by severity descending = %v; want %v", got, defaultOrder)
		}

		// User, a text column, by name (localeCompare): Zoe, first by bytes
		// and so in the report's order, sorts last; alice's two keys keep
		// the report's order either way. Of the names that start with a
		// letter, in table order:
		named := func() []string {
			return run(t, ctx, "list rows by name", chromedp.Evaluate[[]string](
				`Array.from(document.querySelectorAll('tr[data-finding]')).filter(r => /^[A-Za-z]/.test(r.dataset.user)).map(r => r.dataset.finding)`))
		}
		inOrder := func(sign string) bool {
			return run(t, ctx, "compare neighbouring names", chromedp.Evaluate[bool](`Array.from(document.querySelectorAll('tr[data-finding]'))
				.map(r => r.dataset.user).every((u, i, a) => i === 0 || `+sign+`a[i-1].localeCompare(u) <= 0)`))
		}
		ascending := []string{
			"3f9c1a7be2d04c11", "8b2e4d6f10a3c5e7", // alice, keys 1 and 2
			"c0ffee0012345678", "d15ab1ed00c1e9ac", "0a0b0c0d0e0f1011", "5bc0ba7c00000001", // build-bot, ci-legacy, eve, svc-batch
			"beefbeefbeef0002", // Zoe
		}
		do(t, ctx, "click User", chromedp.Click(chromedp.CSS(`button[data-sort="user"]`)))
		if got := named(); !slices.Equal(got, ascending) || !inOrder("") {
			t.Errorf("sorted by user = %v (every neighbour in order: %v); want %v", got, inOrder(""), ascending)
		}
		descending := []string{"beefbeefbeef0002", "5bc0ba7c00000001", "0a0b0c0d0e0f1011", "d15ab1ed00c1e9ac", "c0ffee0012345678",
			"3f9c1a7be2d04c11", "8b2e4d6f10a3c5e7"} // ties in the report's order
		do(t, ctx, "click User again", chromedp.Click(chromedp.CSS(`button[data-sort="user"]`)))
		if got := named(); !slices.Equal(got, descending) || !inOrder("-") {
			t.Errorf("sorted by user descending = %v (every neighbour in order: %v); want %v", got, inOrder("-"), descending)
		}
	})

	t.Run("filter by clicking", func(t *testing.T) {
		sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
		check := func(what string, want []string) {
			t.Helper()
			if got := sorted(ids()); !slices.Equal(got, sorted(want)) {
				t.Errorf("%s: rows shown = %v; want %v", what, got, sorted(want))
			}
			status := run(t, ctx, "read status", chromedp.Text(chromedp.ID("status")))
			wantStatus := "Showing " + strconv.Itoa(len(want)) + " of " + strconv.Itoa(len(all)) + " findings"
			if len(want) == len(all) {
				wantStatus = strconv.Itoa(len(all)) + " findings"
			}
			if status != wantStatus {
				t.Errorf("%s: status = %q; want %q", what, status, wantStatus)
			}
		}
		do(t, ctx, "click the access_key_age bar of 111111111111",
			chromedp.Click(chromedp.CSS(`#chart-by-account rect.seg[data-account="111111111111"][data-rule="access_key_age"]`)))
		check("account 111111111111, rule access_key_age", ofReport(func(f *policy.Finding) bool {
			return f.Account == "111111111111" && f.Rule == config.RuleAccessKeyAge
		}))
		sel := run(t, ctx, "read the rule filter", chromedp.Value(chromedp.CSS(`select[data-filter="rule"]`)))
		if sel != config.RuleAccessKeyAge {
			t.Errorf("rule filter after the chart click = %q; want access_key_age", sel)
		}

		do(t, ctx, "click 2026-11-28 in the calendar", chromedp.Click(chromedp.CSS(`#chart-calendar .day[data-date="2026-11-28"]`)))
		check("next stage on 2026-11-28", ofReport(func(f *policy.Finding) bool {
			return f.NextStageOn != nil && f.NextStageOn.String() == "2026-11-28"
		}))

		do(t, ctx, "click the high severity chip", chromedp.Click(chromedp.CSS(`button[data-set-filter="severity"][data-value="high"]`)))
		check("severity high", ofReport(func(f *policy.Finding) bool { return f.Severity == config.SeverityHigh }))

		do(t, ctx, "click Clear filters", chromedp.Click(chromedp.ID("reset")))
		check("no filter", all)

		do(t, ctx, "type in the user filter", chromedp.SendKeys(chromedp.CSS(`input[data-filter="q"]`), "ALI"))
		check("user contains ali", ofReport(func(f *policy.Finding) bool { return strings.Contains(f.User, "ali") }))
		do(t, ctx, "click Clear filters", chromedp.Click(chromedp.ID("reset")))
		check("no filter again", all)

		// The Stage filter: an action, or exempt.
		choose := func(filter, value string) {
			t.Helper()
			ok := run(t, ctx, "choose "+value, chromedp.Evaluate[bool](`(() => {
				const s = document.querySelector('select[data-filter="`+filter+`"]');
				if (!Array.from(s.options).some(o => o.value === '`+value+`')) { return false; }
				s.value = '`+value+`';
				s.dispatchEvent(new Event('change'));
				return true;
			})()`))
			if !ok {
				t.Fatalf("the %s filter has no option %q", filter, value)
			}
		}
		choose("stage", config.ActionDelete)
		check("stage delete", ofReport(func(f *policy.Finding) bool { return !f.Exempt && f.Action == config.ActionDelete }))
		choose("stage", "exempt")
		check("stage exempt", ofReport(func(f *policy.Finding) bool { return f.Exempt }))
		choose("stage", config.ActionNotify)
		check("stage notify", ofReport(func(f *policy.Finding) bool { return !f.Exempt && f.Action == config.ActionNotify }))
		do(t, ctx, "click Clear filters", chromedp.Click(chromedp.ID("reset")))
		check("no filter after the stage filter", all)
	})

	t.Run("calendar counts what comes after", func(t *testing.T) {
		expect(t, ctx, "calendar caption", `({
			later: document.getElementById('calendar-later').dataset.later,
			text: document.getElementById('calendar-later').textContent,
		})`, map[string]string{"later": "1", "text": "1 more finding reaches its next stage after 2026-12-22"})
	})

	// Kept with go test -artifacts (make test passes it) under
	// -outputdir's _artifacts/internal/report/TestHTMLInBrowser/; without
	// it, removed when the test ends.
	shots := t.ArtifactDir()
	png := run(t, ctx, "desktop screenshot", chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(shots, "report-desktop.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("print layout", func(t *testing.T) {
		// The print rules of report.css: filters, the reset button and the
		// footer hidden, charts two to a row, rows and charts never split
		// across pages, headers not sticky, badge colors kept. On screen
		// the same 1600 px wide page shows the filters and three charts a
		// row (at 1280 px the screen layout has two as well).
		layout := `(() => {
			const charts = Array.from(document.querySelectorAll('.charts > .chart')).map(c => c.getBoundingClientRect().top);
			const css = (sel, prop) => getComputedStyle(document.querySelector(sel))[prop];
			return {
				filters: css('#filters', 'display'), reset: css('#reset', 'display'), footer: css('footer', 'display'),
				columns: String(css('.charts', 'gridTemplateColumns').split(' ').length),
				firstRow: String(charts.filter(top => top === charts[0]).length),
				row: css('tr[data-finding]', 'breakInside'), chart: css('.chart', 'breakInside'),
				th: css('th', 'position'), colors: css('.badge', 'printColorAdjust'),
			};
		})()`
		media := func(m string) {
			t.Helper()
			if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: m}); err != nil {
				t.Fatalf("emulate %q media: %v", m, err)
			}
		}
		do(t, ctx, "widen the page", chromedp.EmulateViewport(1600, 900))
		media("print")
		expect(t, ctx, "print layout", layout, map[string]string{
			"filters": "none", "reset": "none", "footer": "none", "columns": "2", "firstRow": "2",
			"row": "avoid", "chart": "avoid", "th": "static", "colors": "exact",
		})
		png := run(t, ctx, "print screenshot", chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(shots, "report-print.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
		media("")
		expect(t, ctx, "screen layout", layout, map[string]string{
			"filters": "flex", "footer": "block", "columns": "3", "firstRow": "3", "th": "sticky",
		})
		do(t, ctx, "restore the page width", chromedp.EmulateViewport(1280, 900))
	})

	t.Run("phone layout", func(t *testing.T) {
		do(t, ctx, "emulate a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateScale(2)))
		m := run(t, ctx, "measure the page", chromedp.Evaluate[map[string]float64](`({
			overflow: document.documentElement.scrollWidth - window.innerWidth,
			theadShown: document.querySelector('#findings thead').getBoundingClientRect().height,
			rowWidth: document.querySelector('tr[data-finding]').getBoundingClientRect().width,
			width: window.innerWidth,
		})`))
		if m["overflow"] > 0 {
			t.Errorf("phone layout scrolls sideways by %vpx; want it to fit", m["overflow"])
		}
		if m["theadShown"] != 0 {
			t.Errorf("phone layout shows the table header (%vpx); want rows as cards", m["theadShown"])
		}
		if m["rowWidth"] > m["width"] {
			t.Errorf("phone row is %vpx wide in a %vpx viewport", m["rowWidth"], m["width"])
		}
		// Two screens, as a phone shows them: the top, and the findings.
		for _, shot := range []struct{ file, scroll string }{
			{"report-phone-top.png", `window.scrollTo(0, 0); true`},
			{"report-phone-findings.png", `document.getElementById('status').scrollIntoView(); true`},
		} {
			run(t, ctx, "scroll", chromedp.Evaluate[bool](shot.scroll))
			png := run(t, ctx, "phone screenshot", chromedp.CaptureScreenshot())
			if err := os.WriteFile(filepath.Join(shots, shot.file), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})

	// Let late messages (a CSP report arrives asynchronously) come in.
	time.Sleep(200 * time.Millisecond)
	for _, m := range console() {
		if m.Type == chromedp.ConsoleError || m.IsException() || m.Type == chromedp.ConsoleWarning {
			t.Errorf("console %s: %s", m.Type, m.Text)
		}
	}
	resources := run(t, ctx, "count loaded resources", chromedp.Evaluate[int](`performance.getEntriesByType('resource').length`))
	if resources != 0 {
		t.Errorf("the page loaded %d resources; want 0 (self-contained)", resources)
	}
	t.Logf("screenshots in %s", shots)
}

// TestHTMLEmptyInBrowser: a report without findings or inventory opens
// without errors and says so.
func TestHTMLEmptyInBrowser(t *testing.T) {
	page := filepath.Join(t.TempDir(), "empty.html")
	if err := os.WriteFile(page, []byte(render(t, emptyReport(), FormatHTML, Options{})), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, console := browser(t)
	do(t, ctx, "open the empty report", chromedp.Navigate("file://"+page), chromedp.WaitReady(chromedp.ID("status")))
	expect(t, ctx, "empty report", `({
		status: document.getElementById('status').textContent,
		none: document.querySelector('.none') ? document.querySelector('.none').textContent : '',
		rows: String(document.querySelectorAll('tr[data-finding]').length),
		calendar: String(document.querySelectorAll('#chart-calendar .day').length),
	})`, map[string]string{"status": "0 findings", "none": "No findings.", "rows": "0", "calendar": "30"})
	time.Sleep(200 * time.Millisecond)
	for _, m := range console() {
		if m.Type == chromedp.ConsoleError || m.IsException() {
			t.Errorf("console %s: %s", m.Type, m.Text)
		}
	}
}
