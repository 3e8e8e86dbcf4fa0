package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/keywarden/keywarden/internal/testenv"
)

// TestProgressBarAndSDKWarningsOnATerminal runs a scan of five accounts
// with stderr on a pseudo-terminal, so the progress bar is drawn, while
// every AWS answer carries a Date header the SDK cannot parse, so the SDK
// logs a warning for each (and the calls are slowed, so the warnings come
// while the bar is on screen). Every line of what the terminal shows is
// either a whole log line or a progress-bar frame, never both; and a log
// line written while the bar was up started on a cleared line.
func TestProgressBarAndSDKWarningsOnATerminal(t *testing.T) {
	e := newOrgE2E(t)
	p := e.m.NewProxy(t)
	p.Inject(testenv.Fault{Delay: 150 * time.Millisecond, Match: testenv.IsOp("iam:GetAccountAuthorizationDetails")})
	p.Inject(testenv.Fault{Delay: 150 * time.Millisecond, Match: testenv.IsOp("iam:ListAccessKeys")})
	target, err := url.Parse(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	badDate := httputil.NewSingleHostReverseProxy(target)
	badDate.ModifyResponse = func(r *http.Response) error {
		r.Header.Set("Date", "not a date")
		return nil
	}
	front := httptest.NewServer(badDate)
	t.Cleanup(front.Close)
	dir := e.configDir(t, "999999999999") // none of them

	ptmx, tty, err := pty.Open()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("open a pseudo-terminal: %v", err)
		}
		t.Skipf("no pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 50, Cols: 200}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "scan", "--format", "json")
	cmd.Env = append(append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, p.Env(e.m)...), "AWS_ENDPOINT_URL="+front.URL)
	cmd.Dir = dir
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &stdout, tty, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // the child holds it; the master reads until the child exits
	var screen bytes.Buffer
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(&screen, ptmx); close(copied) }()
	err = cmd.Wait()
	<-copied
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	raw := strings.ReplaceAll(screen.String(), "\r\n", "\n") // the terminal's own newline translation
	if cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("scan: exit %d\n%s", cmd.ProcessState.ExitCode(), raw)
	}
	rep := decodeReport(t, result{stdout: stdout.String(), stderr: raw})
	if len(rep.Accounts) != 5 {
		t.Fatalf("report has %d accounts; want 5", len(rep.Accounts))
	}

	logLine := regexp.MustCompile(`^time=\S+ level=(DEBUG|INFO|WARN|ERROR) msg=`)
	barFrame := regexp.MustCompile(`^\s*\d+% \|[^|]*\| \(\d+/\d+\) (\[[^\]]*\] )?accounts · \d+ users( · \d+ failed)?$`)
	var warnings, frames int
	for i, line := range strings.Split(raw, "\n") {
		shown := strings.TrimRight(terminalLine(line), " ")
		isLog, isBar := logLine.MatchString(shown), barFrame.MatchString(shown)
		switch {
		case shown == "":
		case isLog && !strings.Contains(shown, "accounts · "):
			if strings.Contains(shown, "level=WARN") && strings.Contains(shown, "AWS SDK: failed to parse response Date header") {
				warnings++
			}
		case isBar && !strings.Contains(shown, "level="):
			frames++
		default:
			t.Errorf("terminal line %d is neither a whole log line nor a progress-bar frame: %q (written %q)", i+1, shown, line)
		}
	}
	if warnings == 0 || frames == 0 {
		t.Fatalf("the terminal shows %d SDK warnings and %d bar frames; want both:\n%s", warnings, frames, raw)
	}
	// Every log line starts a line: at the start of output, after a
	// newline, or after the bar's line was cleared — never after a frame.
	for _, m := range regexp.MustCompile(`time=\S+ level=`).FindAllStringIndex(raw, -1) {
		before := raw[:m[0]]
		if !(before == "" || strings.HasSuffix(before, "\n") || strings.HasSuffix(before, "\r\x1b[K")) {
			t.Errorf("a log line follows %q on the same line", before[max(len(before)-60, 0):])
		}
	}
	if !strings.Contains(raw, "\r\x1b[Ktime=") {
		t.Errorf("no log line came while the bar was on screen (none cleared its line): the test did not make the case it checks:\n%s", raw)
	}
}

// terminalLine is what a terminal shows for one line of output: "\r"
// returns to its start, ESC [ K erases to its end, other escape sequences
// draw nothing; text overwrites what is under it.
func terminalLine(s string) string {
	var cells []rune
	col := 0
	r := []rune(s)
	for i := 0; i < len(r); i++ {
		switch {
		case r[i] == '\r':
			col = 0
		case r[i] == '\x1b' && i+1 < len(r) && r[i+1] == '[':
			j := i + 2
			for j < len(r) && (r[j] < 0x40 || r[j] > 0x7e) {
				j++
			}
			if j < len(r) && r[j] == 'K' {
				param := string(r[i+2 : j])
				switch param {
				case "", "0":
					cells = cells[:min(col, len(cells))]
				case "2":
					cells = cells[:0]
				}
			}
			i = j
		default:
			if col < len(cells) {
				cells[col] = r[i]
			} else {
				for len(cells) < col {
					cells = append(cells, ' ')
				}
				cells = append(cells, r[i])
			}
			col++
		}
	}
	return string(cells)
}
