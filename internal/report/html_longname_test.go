package report

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestHTMLLayoutUnbreakableName: a valid 64-character IAM user name with
// none of @ . - _ (CamelCase service users are common) must not push the
// findings table past the right edge at 1280 px.
func TestHTMLLayoutUnbreakableName(t *testing.T) {
	r := wideReport()
	r.Findings[0].User = "DataPlatformIngestionPipelineProductionEuWest1ServiceAccountProd" // 64 chars, the IAM maximum
	page := filepath.Join(t.TempDir(), "long.html")
	if err := os.WriteFile(page, []byte(render(t, r, FormatHTML, Options{})), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, _ := browser(t)
	do(t, ctx, "open", chromedp.EmulateViewport(1280, 900), chromedp.Navigate("file://"+page), chromedp.WaitReady(chromedp.ID("findings")))
	m := run(t, ctx, "measure the page", chromedp.Evaluate[pageLayout](layoutJS))
	if m.PastCount > 0 || m.ScrollWidth > m.Width {
		t.Errorf("at 1280 px, %d elements reach past the right edge (%v px), e.g. %v", m.PastCount, m.Width, m.Past)
	}
}
