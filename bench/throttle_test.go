package bench

import (
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/testenv"
)

// BenchmarkThrottledScan measures what random throttling costs a scan: the
// keywarden binary scans one account of 1,000 users, 10% of them with a
// stale key (100 key IDs to look up), through the proxy at -org.delay
// (20 ms) per request, fault-free and then with 30% of its IAM requests
// answered Throttling at random (one generator, seeded once: each
// iteration draws anew), one
// after the other in each iteration. Reported: both wall times
// (clean-wall-s, throttled-wall-s), their ratio (throttled/clean) and the
// IAM requests of the throttled scan (throttled-iam-requests). Goal:
// throttled/clean ≤ 3, printed, not asserted (the timings depend on the
// machine); asserted: both scans find the same findings. Run it with
// `go test -run '^$' -bench ThrottledScan -benchtime 5x ./bench/` (see
// docs/reliability.md, "Timeouts and pacing").
func BenchmarkThrottledScan(b *testing.B) {
	const n = 1000
	m, p := seededAccount(b, n)
	var throttling atomic.Bool
	p.Inject(testenv.Fault{Match: func(op testenv.Op) bool { return throttling.Load() && op.Service == "iam" },
		Chance: 0.3, Seed: 14, Code: "Throttling", Status: http.StatusBadRequest, Message: "Rate exceeded"})
	runKeywarden(b, m, p, "warm-up", "version: 1\n") // generates the report, builds the binary
	var clean, throttled time.Duration
	requests := 0
	b.ResetTimer()
	for i := range b.N {
		c, _ := runKeywarden(b, m, p, "fault-free", "version: 1\n")
		throttling.Store(true)
		t, _ := runKeywarden(b, m, p, "30% throttled", "version: 1\n")
		throttling.Store(false)
		for _, op := range t.ops {
			if op.Service == "iam" {
				requests++
			}
		}
		if !slices.Equal(c.findings, t.findings) {
			b.Errorf("iteration %d: findings differ under 30%% throttling: %d fault-free, %d throttled", i, len(c.findings), len(t.findings))
		}
		clean += c.wall
		throttled += t.wall
		say("iteration %d: fault-free %.2f s, 30%% throttled %.2f s (%.2f×), %d requests", i, c.wall.Seconds(), t.wall.Seconds(), t.wall.Seconds()/c.wall.Seconds(), len(t.ops))
	}
	ratio := throttled.Seconds() / clean.Seconds()
	b.ReportMetric(clean.Seconds()/float64(b.N), "clean-wall-s")
	b.ReportMetric(throttled.Seconds()/float64(b.N), "throttled-wall-s")
	b.ReportMetric(ratio, "throttled/clean")
	b.ReportMetric(float64(requests)/float64(b.N), "throttled-iam-requests")
	met := "met"
	if ratio > 3 {
		met = "NOT met"
	}
	say("goal throttled/clean ≤ 3: %.2f, %s", ratio, met)
}
