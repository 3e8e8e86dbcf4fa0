package cli

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/keywarden/keywarden/internal/run"
)

// newProgress returns the scan's progress bar on stderr: only when stderr
// is a terminal and --quiet was not given (nil otherwise, so a pipe or a
// log file never gets one).
func newProgress(f *Factory, quiet bool) run.Progress {
	if quiet || !f.IsTerminal(f.ErrOut) {
		return nil
	}
	return &progressBar{w: barWriter{f.status()}}
}

// progressBar draws accounts done (and users read) with
// github.com/schollz/progressbar. It is safe for concurrent use: the scan's
// workers report to it at once.
type progressBar struct {
	w   io.Writer
	bar *progressbar.ProgressBar

	mu            sync.Mutex
	users, failed int
}

func (p *progressBar) Start(accounts int) {
	p.bar = progressbar.NewOptions(accounts,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(describeProgress(0, 0)),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetRenderBlankState(true),
		// The last state stays on screen, on a line of its own.
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(p.w) }),
	)
}

func (p *progressBar) AccountDone(_ string, users int, err error) {
	p.mu.Lock()
	p.users += users
	if err != nil {
		p.failed++
	}
	desc := describeProgress(p.users, p.failed)
	p.mu.Unlock()
	p.bar.Describe(desc)
	_ = p.bar.Add(1)
}

func (p *progressBar) Finish() { _ = p.bar.Finish() }

func describeProgress(users, failed int) string {
	s := fmt.Sprintf("accounts · %d users", users)
	if failed > 0 {
		s += fmt.Sprintf(" · %d failed", failed)
	}
	return s
}
