package notify_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/testenv"
)

// mailBrowser is a headless Chromium tab (testenv.Browser).
func mailBrowser(t *testing.T) context.Context { return testenv.Browser(t) }

// layout is what layoutJS measures of a page.
type layout struct {
	// Width is the page's client width; Scroll how far it scrolls
	// sideways.
	Width  float64 `json:"width"`
	Scroll float64 `json:"scroll"`
	// Over are the elements and text whose right edge is past the client
	// width;
	// Tall the table cells taller than maxCell.
	Over  []string `json:"over"`
	Tall  []string `json:"tall"`
	Cells int      `json:"cells"`
	Items int      `json:"items"`
}

// maxCell is the tallest a table cell of a mail may be, in CSS pixels.
const maxCell = 240

const layoutJS = `(() => {
	const W = document.documentElement.clientWidth;
	const name = el => el.tagName.toLowerCase() + ' "' + (el.textContent || '').trim().slice(0, 50) + '"';
	const over = [], tall = [];
	for (const el of document.querySelectorAll('body *')) {
		const r = el.getBoundingClientRect();
		if (r.width === 0 && r.height === 0) continue;
		if (r.right > W + 1) over.push(name(el) + ' right=' + Math.round(r.right));
	}
	// Text that overflows its element's box: the box may fit while its
	// text runs past the edge.
	const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
	const range = document.createRange();
	for (let n = walk.nextNode(); n; n = walk.nextNode()) {
		range.selectNodeContents(n);
		const r = range.getBoundingClientRect();
		if (r.right > W + 1) over.push('text "' + n.textContent.trim().slice(0, 50) + '" right=' + Math.round(r.right));
	}
	const cells = document.querySelectorAll('td, th');
	for (const c of cells) {
		const h = c.getBoundingClientRect().height;
		if (h > 240) tall.push(name(c) + ' height=' + Math.round(h));
	}
	return {width: W, scroll: document.documentElement.scrollWidth - W, over: over.slice(0, 10), tall: tall.slice(0, 10),
		cells: cells.length, items: document.querySelectorAll('.item, div[style*="border-left"]').length};
})()`

// measure loads html at width px and measures it; it writes a screenshot
// of the whole page to shots/name-WIDTH.png.
func measure(t *testing.T, ctx context.Context, shots, name, html string, width int64) layout {
	t.Helper()
	file := filepath.Join(t.TempDir(), name+".html")
	if err := os.WriteFile(file, []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 900), chromedp.Navigate("file://"+file)); err != nil {
		t.Fatalf("load %s at %d px: %v", name, width, err)
	}
	l, err := chromedp.Run(ctx, chromedp.Evaluate[layout](layoutJS))
	if err != nil {
		t.Fatalf("measure %s at %d px: %v", name, width, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s at %d px: %v", name, width, err)
	}
	if shots != "" {
		if err := os.WriteFile(filepath.Join(shots, fmt.Sprintf("%s-%d.png", name, width)), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// TestMailsFitInBrowser loads the owner mails and the admin digests — the
// outcomes of the truth tests, a long user name and address, the hostile
// sample, and the digest of 5,000 findings — in headless Chromium at 600
// px (a common mail-client width) and at 1280 px, and asserts from the
// DOM that nothing extends past the right edge, the page does not scroll
// sideways, and no table cell is taller than 240 px. Screenshots are kept
// as artifacts (go test -artifacts, under -outputdir's _artifacts/).
func TestMailsFitInBrowser(t *testing.T) {
	ctx := mailBrowser(t)
	shots := t.ArtifactDir()
	tpl := notify.DefaultTemplates()

	type page struct{ name, html string }
	var pages []page
	render := func(name string, p *plan.Plan) {
		t.Helper()
		u, err := tpl.User(&p.Messages[0], p, "keywarden@example.com", name+".u", truthAsOf)
		if err != nil {
			t.Fatal(err)
		}
		d, err := tpl.Digest(&p.Digests[0], "keywarden@example.com", name+".d", truthAsOf)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, page{name + "-user", u.HTML}, page{name + "-digest", d.HTML})
	}
	cfg := config.Default()
	cfg.Notify.Admins.Emails = []string{"security@example.com"}
	cfg.Enforce.AllowedAccounts = []string{truthAcct}
	base := plan.Input{Config: cfg, AsOf: truthAsOf, Mode: plan.ModeApply, Apply: true,
		Accounts: []report.Account{{ID: truthAcct, Alias: "acme-prod", Status: report.StatusOK, Users: 12, AccessKeys: 10}}, ActiveKeys: map[string]int{truthAcct: 10}}

	done := base
	done.Findings = truthFindings()
	remediated(false)(&done)
	render("done", plan.Build(done))

	long := base
	long.Mode, long.Apply = plan.ModeNotify, false
	const longUser = "svc-data-pipeline-ingest-eu-west-1-production.backup_reader@corp-example"
	long.Findings = truthFindings()
	for i := range long.Findings {
		long.Findings[i].User = longUser
		long.Findings[i].Recipients = []string{"data-platform-operations-team.eu-west-1-alerts@corp-example.com"}
	}
	render("long-names", plan.Build(long))

	msg, p, digests := notify.Sample()
	u, err := tpl.User(msg, p, "keywarden@example.com", "sample.u", truthAsOf)
	if err != nil {
		t.Fatal(err)
	}
	d, err := tpl.Digest(&digests[0], "keywarden@example.com", "sample.d", truthAsOf)
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, page{"sample-user", u.HTML}, page{"sample-digest", d.HTML})

	large := largePlan(t, 5000)
	ld, err := tpl.Digest(&large.Digests[0], "keywarden@example.com", "large.d", largeAsOf)
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, page{"large-digest", ld.HTML})

	for _, pg := range pages {
		for _, width := range []int64{600, 1280} {
			l := measure(t, ctx, shots, pg.name, pg.html, width)
			if l.Width < float64(width)-20 || l.Width > float64(width) {
				t.Errorf("%s at %d px: client width %v", pg.name, width, l.Width)
			}
			if l.Scroll > 0 || len(l.Over) > 0 {
				t.Errorf("%s at %d px: scrolls sideways by %v px; past the right edge: %v", pg.name, width, l.Scroll, l.Over)
			}
			if len(l.Tall) > 0 {
				t.Errorf("%s at %d px: cells taller than %d px: %v", pg.name, width, maxCell, l.Tall)
			}
			if l.Items == 0 {
				t.Errorf("%s at %d px: no finding block measured", pg.name, width)
			}
		}
	}

	// The measure sees what it is for: a page with a wide line and a tall
	// cell fails both checks.
	bad := `<!DOCTYPE html><html><body><pre>` + strings.Repeat("aws iam update-access-key ", 40) + `</pre>` +
		`<table><tr><td style="width: 40px;">` + strings.Repeat("word ", 200) + `</td></tr></table></body></html>`
	if l := measure(t, ctx, "", "bad", bad, 600); l.Scroll <= 0 || len(l.Over) == 0 || len(l.Tall) == 0 {
		t.Errorf("a page wider than 600 px with a tall cell measures as fitting: %+v", l)
	}
	t.Logf("screenshots in %s", shots)
}
