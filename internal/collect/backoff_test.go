package collect

import (
	"math/rand/v2"
	"testing"
	"time"
)

// looksWithin counts the looks at the report the backoff schedule makes
// before maxWait, each wait drawn with jitter as waitSince draws it; with
// firstAtOnce the first wait was used up before the wait began (the time
// since Begin), as when the accounts' first pass took longer than it.
func looksWithin(initial, maxInterval, maxWait time.Duration, firstAtOnce bool, jitter func(time.Duration) time.Duration) (looks int, last time.Duration) {
	b := newBackoff(initial, maxInterval)
	at := b.wait(jitter)
	if firstAtOnce {
		at = 0
	}
	for at < maxWait {
		looks, last = looks+1, at
		at += b.wait(jitter)
	}
	return looks, last
}

func shortest(time.Duration) time.Duration  { return 0 }
func longest(n time.Duration) time.Duration { return n - 1 }

// TestReportCallCap: the cap on report calls is Begin's call and the looks
// the schedule can make within MaxWait — every wait its shortest, the
// first at once — so MaxWait, not the cap, ends the wait for a report
// IAM is still building: with the defaults, 48 calls, the last look
// after 297.75 s at the earliest; with any jitter, no more looks fit in
// MaxWait; at average jitter about 35 do.
func TestReportCallCap(t *testing.T) {
	if got := ReportCallCap(DefaultPollInitial, DefaultPollMax, DefaultMaxWait); got != DefaultMaxReportCalls {
		t.Errorf("ReportCallCap(defaults) = %d; want DefaultMaxReportCalls, %d", got, DefaultMaxReportCalls)
	}
	for _, tc := range []struct {
		initial, max, maxWait time.Duration
		want                  int
	}{
		// Looks at 0, 50 ms, 150 ms, … 12.75 s (the interval doubling
		// from 100 ms to 12.8 s, half of each), then every 7.5 s to
		// 297.75 s: 47 looks.
		{DefaultPollInitial, DefaultPollMax, DefaultMaxWait, 48},
		// Looks at 0, 10, 30, 50, 70, 90 ms.
		{10 * time.Millisecond, 40 * time.Millisecond, 100 * time.Millisecond, 7},
		// Looks at 0, 0.5, 1, … 9.5 s.
		{time.Second, time.Second, 10 * time.Second, 21},
		// A wait as long as MaxWait: the first look only.
		{time.Hour, time.Hour, time.Millisecond, 2},
		// An hour: 9 looks to 12.75 s, then (3,600 − 12.75) / 7.5 = 478.3.
		{DefaultPollInitial, DefaultPollMax, time.Hour, 1 + 9 + 478},
	} {
		got := ReportCallCap(tc.initial, tc.max, tc.maxWait)
		looks, last := looksWithin(tc.initial, tc.max, tc.maxWait, true, shortest)
		if got != tc.want || got != 1+looks {
			t.Errorf("ReportCallCap(%s, %s, %s) = %d; want %d, 1 + the %d looks of the shortest schedule (the last at %s)",
				tc.initial, tc.max, tc.maxWait, got, tc.want, looks, last)
		}
	}
	if _, last := looksWithin(DefaultPollInitial, DefaultPollMax, DefaultMaxWait, true, shortest); last != 297750*time.Millisecond {
		t.Errorf("the shortest schedule's last look within MaxWait at %s; want 297.75s", last)
	}

	// Whatever the jitter, the looks within MaxWait stay under the cap.
	looks := map[string]int{}
	for name, j := range map[string]func(time.Duration) time.Duration{"shortest": shortest, "longest": longest, "random": rand.N[time.Duration]} {
		for _, atOnce := range []bool{false, true} {
			for range 200 {
				n, _ := looksWithin(DefaultPollInitial, DefaultPollMax, DefaultMaxWait, atOnce, j)
				if 1+n > DefaultMaxReportCalls {
					t.Fatalf("%s jitter (first look at once: %v): %d looks within MaxWait; want at most %d", name, atOnce, n, DefaultMaxReportCalls-1)
				}
				looks[name] = max(looks[name], n)
			}
		}
	}
	var sum int
	const runs = 1000
	for range runs {
		n, _ := looksWithin(DefaultPollInitial, DefaultPollMax, DefaultMaxWait, false, rand.N[time.Duration])
		sum += n
	}
	mean := float64(sum) / runs
	t.Logf("looks within MaxWait: shortest waits %d, longest %d, random at most %d, on average %.1f", looks["shortest"], looks["longest"], looks["random"], mean)
	// Average jitter is three quarters of each interval: about 34 looks.
	if mean < 30 || mean > 40 {
		t.Errorf("on average %.1f looks within MaxWait; want about 34 (three quarters of each interval)", mean)
	}
}

// TestBackoffWaitAfter: the first look at a report comes the schedule's
// first wait after it was asked for — at once when more time than that has
// passed, whatever the jitter — and the waits after it are as long as the
// time already spent, so that a report IAM has been building for a while
// is not looked at every few milliseconds.
func TestBackoffWaitAfter(t *testing.T) {
	for _, tc := range []struct {
		name           string
		elapsed        time.Duration
		jitter         func(time.Duration) time.Duration
		first, second  time.Duration // the first wait ≤ 0: at once
		firstNotBefore bool
	}{
		// Asked 10 ms ago: the first look 15–40 ms from now, the next
		// interval 100 ms.
		{"soon after", 10 * time.Millisecond, shortest, 15 * time.Millisecond, 50 * time.Millisecond, false},
		{"soon after, longest jitter", 10 * time.Millisecond, longest, 40 * time.Millisecond, 100 * time.Millisecond, false},
		// Asked 60 ms ago, past the longest first wait (50 ms): at once,
		// then waits of an interval past 60 ms (100 ms).
		{"past the first wait", 60 * time.Millisecond, longest, -10 * time.Millisecond, 100 * time.Millisecond, true},
		// Asked 1.3 s ago (the first pass of an organization): at once,
		// then waits of 0.8–1.6 s.
		{"long ago", 1300 * time.Millisecond, shortest, -1275 * time.Millisecond, 800 * time.Millisecond, true},
	} {
		b := newBackoff(DefaultPollInitial, DefaultPollMax)
		first := b.waitAfter(tc.elapsed, tc.jitter)
		second := b.waitAfter(0, tc.jitter)
		if first != tc.first || second != tc.second || (first <= 0) != tc.firstNotBefore {
			t.Errorf("%s: waits %s then %s; want %s (at once: %v) then %s", tc.name, first, second, tc.first, tc.firstNotBefore, tc.second)
		}
	}
}
