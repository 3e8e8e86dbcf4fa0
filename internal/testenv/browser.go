package testenv

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium finds Debian's chromium (scripts/test-deps.sh installs it):
// without it the test skips locally and fails when CI is set.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const hint = "install Debian's chromium (apt-get install chromium; scripts/test-deps.sh does)"
	if os.Getenv("CI") != "" {
		t.Fatalf("browser test cannot run: chromium not found; %s", hint)
	}
	t.Skipf("browser test skipped: chromium not found (%s; set CI=1 to make this a failure)", hint)
	return ""
}

// Browser starts headless Chromium with a fresh profile and no background
// networking, for at most two minutes, and returns a tab that has opened
// about:blank. The browser is closed gracefully when the test ends, so
// that it removes what it made in $TMPDIR (its singleton socket).
func Browser(t testing.TB) context.Context {
	t.Helper()
	exe := Chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	t.Cleanup(acancel)
	tctx, tcancel := chromedp.NewContext(actx)
	// Cancelling the context kills the browser; chromedp.Cancel closes it
	// first, and the cancel stops it should the close fail.
	t.Cleanup(func() { _ = chromedp.Cancel(tctx); tcancel() })
	if err := chromedp.Do(tctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium (%s): %v", exe, err)
	}
	return tctx
}
