package bench

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keywarden/keywarden/internal/collect"
	"github.com/keywarden/keywarden/internal/testenv"
)

var (
	reportBuild  = flag.Duration("scan.report-build", 0, "how long moto takes to build a credential report in BenchmarkScan1000Users's report=generated case (0: built by the time it is first asked for, as plain moto does)")
	tagsBaseline = flag.Bool("scan.tags-baseline", false, "BenchmarkScan1000Users: also run the heavier baseline scanner (ListUserTags too; about a minute more), a secondary figure")
)

// sequentialRoundTrips is k in the critical-path model of a scan of one
// account of n users against moto: the round trips that must follow each
// other. GetCallerIdentity (the credentials are proven before anything
// else is asked), GenerateCredentialReport, then GetCredentialReport
// beside the GetAccountAuthorizationDetails pages, one after the other
// (the password policy, the alias, the account summary and the pages of
// service-specific credentials beside them too), and one round of
// ListAccessKeys for the flagged users, which do not depend on each other
// (against moto, which serves one request at a time, their time is
// moto's, counted apart).
func sequentialRoundTrips(n int) int { return 2 + max(1, (n+999)/1000) + 1 }

// replayedRoundTrips is k in the model of a replayed scan, where every
// request takes the proxy's delay and any number are served at once: the
// round trips of sequentialRoundTrips before the key lookups, then
// ceil(flagged / limit) rounds of ListAccessKeys, limit at a time.
func replayedRoundTrips(n, flagged, limit int) int {
	return sequentialRoundTrips(n) - 1 + (flagged+limit-1)/limit
}

// scanCase is what a case of BenchmarkScan1000Users measured, summed over
// its scans.
type scanCase struct {
	scans                  int
	wall, model            time.Duration
	calls, reportCalls     int
	rounds, stretches      int
	cpu, motoCPU, proxyCPU time.Duration
}

func (s *scanCase) add(r measured, model time.Duration) {
	s.scans++
	s.wall += r.wall
	s.model += model
	s.calls += r.calls
	s.cpu += r.cpu
	s.motoCPU += r.motoCPU
	s.proxyCPU += r.proxyCPU
	s.rounds += sequentialRounds(r.ops)
	s.stretches += len(stretches(r.ops))
	for _, op := range r.ops {
		if op.Operation == "GenerateCredentialReport" || op.Operation == "GetCredentialReport" {
			s.reportCalls++
		}
	}
}

func (s *scanCase) mean(d time.Duration) float64 { return d.Seconds() / float64(s.scans) }

func (s *scanCase) perScan(n int) float64 { return float64(n) / float64(s.scans) }

func (s *scanCase) report(b *testing.B) {
	b.ReportMetric(s.mean(s.wall), "wall-s")
	b.ReportMetric(s.mean(s.model), "model-s")
	b.ReportMetric(s.wall.Seconds()/s.model.Seconds(), "wall/model")
	b.ReportMetric(s.perScan(s.calls), "api-calls")
	b.ReportMetric(s.perScan(s.reportCalls), "report-calls")
	b.ReportMetric(s.perScan(s.rounds), "sequential-rounds")
	b.ReportMetric(s.perScan(s.stretches), "in-flight-stretches")
	b.ReportMetric(s.mean(s.motoCPU), "moto-cpu-s")
	b.ReportMetric(s.mean(s.cpu), "keywarden-cpu-s")
}

// BenchmarkScan1000Users measures the scan's critical path: the keywarden
// binary scans one account of 1,000 users, 10% of them with a stale key
// (100 key IDs to look up), through the proxy at -org.delay (20 ms) per
// request, in two cases, each live and replayed:
//
//   - report=ready: the account has a credential report under four hours
//     old, so GenerateCredentialReport answers COMPLETE;
//   - report=generated: its report has expired (the first scan of the day),
//     so IAM (moto, through testenv's ExpireCredentialReport) generates a
//     new one, taking -scan.report-build (default 0: built by the time it
//     is first asked for).
//
// Live, moto answers; replayed (report=ready,replayed and
// report=generated,replayed), the proxy answers every request from a
// recording of moto's answers to a scan of the same case (Proxy.Record,
// then Replay), so that each request takes the delay and nothing else and
// any number are served at once, as AWS serves them: the key lookups'
// concurrency shows, where moto's one-request-at-a-time CPU hides it live.
// A replayed report=generated scan gets GenerateCredentialReport's STARTED
// and the report at its first look.
//
// Each scan is set against a critical-path model of what it must do.
// Live, against moto:
//
//	model = k × delay + build + moto CPU + keywarden CPU
//
// k = 3 + max(1, ceil(N/1000)) = 4 round trips must follow each other
// (sequentialRoundTrips): GetCallerIdentity, GenerateCredentialReport,
// GetCredentialReport beside the GetAccountAuthorizationDetails pages,
// and one round of ListAccessKeys. build is the report's build time (the
// report=generated case; counted as if the authorization details were not
// read meanwhile). moto serves one request at a time, so all of its
// CPU time over the scan is on the path; keywarden's CPU (start-up,
// parsing the report and the authorization details, evaluating,
// rendering) is counted as if none of it overlapped a wait. Replayed:
//
//	model = (3 + ceil(100 / limit)) × delay + first look + keywarden CPU
//
// (replayedRoundTrips): the key lookups take ceil(100/limit) rounds at
// collect.DefaultKeyLookupParallel (32) at once; first look is the longest
// wait before the first look at a report being generated,
// collect.DefaultPollInitial (report=generated only). wall/model is the
// ratio; sequential-rounds is the longest chain of requests each sent
// after the one before it was answered (sequentialRounds), the round
// trips the scan made one after the other; in-flight-stretches counts the
// stretches of time with a request in flight (the requests in flight
// together merged), the timeline's lines.
//
// Goals: wall/model ≤ 1.5 in each case; report=generated ≤ 1.3 ×
// report=ready (generated/ready) with the report built at once (the
// default: a longer build adds its time to the generated case);
// report=generated ≥ 25× faster than the baseline scanner, one
// ListAccessKeys per user like the seed scripts, on the same account
// (speedup-vs-baseline, live; speedup-vs-baseline-replayed, both
// replayed: the baseline's live run is recorded; with -scan.tags-baseline
// also live against the heavier scanner that adds ListUserTags,
// speedup-vs-tags-baseline). The goals are printed, met or not, never
// asserted: the timings depend on the machine. What is asserted is that
// every scan finds the same 100 stale keys within the call budget, and
// that replay answers every request. Run it with `make bench-scan` (see
// docs/performance.md).
func BenchmarkScan1000Users(b *testing.B) {
	const n = 1000
	const flagged = n / staleEvery
	m, p := seededAccount(b, n)
	k := sequentialRoundTrips(n)
	kReplayed := replayedRoundTrips(n, flagged, collect.DefaultKeyLookupParallel)

	scan := func(b *testing.B, name string) measured {
		r, rep := runKeywarden(b, m, p, name, "version: 1\n")
		checkBudget(b, rep, p, "")
		if r.stale != flagged {
			b.Errorf("%s: %d stale keys; want %d", name, r.stale, flagged)
		}
		checkReplayed(b, r)
		return r
	}
	model := func(r measured, build time.Duration) time.Duration {
		return time.Duration(k)*(*delay) + build + r.motoCPU + r.cpu
	}
	replayModel := func(r measured, firstLook time.Duration) time.Duration {
		return time.Duration(kReplayed)*(*delay) + firstLook + r.cpu
	}
	// The first scan generates the report (and builds the binary).
	scan(b, "warm-up")

	var base, baseReplayed, baseTags measured
	if *baseline {
		run := func(bl baselineScanner, name string) measured {
			r := runBaseline(b, m, p, bl, []aws.Config{p.Config(b, m)})
			r.name = name
			if r.stale != flagged {
				b.Errorf("%s found %d stale keys; want %d", r.name, r.stale, flagged)
			}
			checkReplayed(b, r)
			say("%s: %.2f s, %d API calls, moto CPU %.2f s", r.name, r.wall.Seconds(), r.calls, r.motoCPU.Seconds())
			return r
		}
		p.Record()
		base = run(keysOnly, keysOnly.String()+", recorded")
		p.Replay()
		baseReplayed = run(keysOnly, keysOnly.String()+", replayed")
		p.Live()
		if *tagsBaseline {
			baseTags = run(keysAndTags, keysAndTags.String())
		}
	}

	// live runs a live case; replayed records one scan of the case and
	// replays it. expire makes the case's report one to generate.
	var ready, generated, readyReplayed, generatedReplayed scanCase
	live := func(c *scanCase, name string, expire bool, model func(measured) time.Duration) func(*testing.B) {
		return func(b *testing.B) {
			*c = scanCase{}
			for i := range b.N {
				if expire {
					b.StopTimer()
					m.ExpireCredentialReport(b, *reportBuild)
					b.StartTimer()
				}
				r := scan(b, name)
				c.add(r, model(r))
				if i == 0 {
					say("%s", timeline(r, model(r)))
				}
			}
			c.report(b)
		}
	}
	replayed := func(c *scanCase, name string, expire bool, model func(measured) time.Duration) func(*testing.B) {
		return func(b *testing.B) {
			b.StopTimer()
			if expire {
				m.ExpireCredentialReport(b, *reportBuild)
			}
			p.Record()
			scan(b, name+", recorded")
			p.Replay()
			defer p.Live()
			b.StartTimer()
			live(c, name+", replayed", false, model)(b)
		}
	}
	b.Run("report=ready", live(&ready, "report ready", false, func(r measured) time.Duration { return model(r, 0) }))
	b.Run("report=generated", live(&generated, "report generated", true, func(r measured) time.Duration { return model(r, *reportBuild) }))
	b.Run("report=ready,replayed", replayed(&readyReplayed, "report ready", false, func(r measured) time.Duration { return replayModel(r, 0) }))
	b.Run("report=generated,replayed", replayed(&generatedReplayed, "report generated", true, func(r measured) time.Duration {
		return replayModel(r, collect.DefaultPollInitial)
	}))
	speedup := func(base measured, c *scanCase) float64 { return base.wall.Seconds() / c.mean(c.wall) }
	if generated.scans > 0 {
		if ready.scans > 0 {
			b.ReportMetric(generated.mean(generated.wall)/ready.mean(ready.wall), "generated/ready")
		}
		if base.wall > 0 {
			b.ReportMetric(speedup(base, &generated), "speedup-vs-baseline")
		}
		if baseTags.wall > 0 {
			b.ReportMetric(speedup(baseTags, &generated), "speedup-vs-tags-baseline")
		}
	}
	if baseReplayed.wall > 0 && generatedReplayed.scans > 0 {
		b.ReportMetric(speedup(baseReplayed, &generatedReplayed), "speedup-vs-baseline-replayed")
	}

	if ready.scans == 0 || generated.scans == 0 {
		return
	}
	goal := func(met bool) string {
		if met {
			return "met"
		}
		return "MISSED"
	}
	say("\nOne account, %d users, %d%% stale, %s per request; model live: %d sequential round trips × delay + build + moto CPU + keywarden CPU; replayed: (%d + ceil(%d/%d)) = %d round trips × delay + first look (%s, generated) + keywarden CPU\n",
		n, 100/staleEvery, *delay, k, k-1, flagged, collect.DefaultKeyLookupParallel, kReplayed, collect.DefaultPollInitial)
	say("| case | wall | model | wall/model | API calls (report calls) | round trips one after the other | in-flight stretches | moto CPU | keywarden CPU |")
	say("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	cases := []struct {
		name string
		s    *scanCase
	}{
		{"report ready", &ready}, {fmt.Sprintf("report generated (build %s)", *reportBuild), &generated},
		{"report ready, replayed", &readyReplayed}, {"report generated, replayed", &generatedReplayed},
	}
	for _, c := range cases {
		s := c.s
		if s.scans == 0 {
			continue
		}
		say("| %s | %.2f s | %.2f s | %.2f | %.0f (%.0f) | %.1f | %.1f | %.2f s | %.2f s |", c.name, s.mean(s.wall), s.mean(s.model), s.wall.Seconds()/s.model.Seconds(),
			s.perScan(s.calls), s.perScan(s.reportCalls), s.perScan(s.rounds), s.perScan(s.stretches), s.mean(s.motoCPU), s.mean(s.cpu))
	}
	say("")
	for _, c := range cases {
		if s := c.s; s.scans > 0 {
			r := s.wall.Seconds() / s.model.Seconds()
			say("goal wall/model ≤ 1.5, %s: %.2f (%s)", c.name, r, goal(r <= 1.5))
		}
	}
	if gw, rw := generated.mean(generated.wall), ready.mean(ready.wall); *reportBuild == 0 {
		say("goal report generated ≤ 1.3 × report ready: %.2f× (%s)", gw/rw, goal(gw/rw <= 1.3))
	} else {
		say("report generated / report ready: %.2f× (the 1.3× goal is for a report built at once, -scan.report-build=0)", gw/rw)
	}
	for _, c := range []struct {
		name string
		base measured
		s    *scanCase
		goal bool
	}{{"report generated", base, &generated, true}, {"report generated, replayed", baseReplayed, &generatedReplayed, true}, {"report generated", baseTags, &generated, false}} {
		if c.base.wall == 0 || c.s.scans == 0 {
			continue
		}
		x := speedup(c.base, c.s)
		line := fmt.Sprintf("%s (%.2f s) against the %s (%.2f s, %d calls): %.1f×", c.name, c.s.mean(c.s.wall), c.base.name, c.base.wall.Seconds(), c.base.calls, x)
		if c.goal {
			line = fmt.Sprintf("goal ≥ 25×, %s (%s)", line, goal(x >= 25))
		}
		say("%s", line)
	}
}

// checkReplayed fails b for each request of r that replay had no answer
// for, and when some of r's requests were replayed but not all.
func checkReplayed(b *testing.B, r measured) {
	b.Helper()
	for _, op := range r.missed {
		b.Errorf("%s: replay had no answer for %s (%v); it went to moto", r.name, op.Name(), op.Params)
	}
	if n := r.replayed(); n > 0 && n != r.calls {
		b.Errorf("%s: replayed %d of %d requests; want all", r.name, n, r.calls)
	}
}

// timeline lists a scan's stretches of time with a request in flight, one
// after the other, and the operations in each: where its wall time went.
func timeline(r measured, model time.Duration) string {
	var s strings.Builder
	fmt.Fprintf(&s, "timeline of %q: wall %.3f s, model %.3f s; CPU keywarden %.2f s, moto %.2f s, proxy %.2f s\n",
		r.name, r.wall.Seconds(), model.Seconds(), r.cpu.Seconds(), r.motoCPU.Seconds(), r.proxyCPU.Seconds())
	ops := slices.SortedFunc(slices.Values(r.ops), func(a, b testenv.Op) int { return a.At.Compare(b.At) })
	at := func(t time.Time) float64 { return t.Sub(r.start).Seconds() }
	end := r.start
	for _, st := range stretches(ops) {
		count := map[string]int{}
		var names []string
		for _, op := range ops {
			if !op.At.Before(st.from) && !op.At.After(st.to) {
				if count[op.Operation] == 0 {
					names = append(names, op.Operation)
				}
				count[op.Operation]++
			}
		}
		var parts []string
		for _, name := range names {
			if count[name] > 1 {
				parts = append(parts, fmt.Sprintf("%d %s", count[name], name))
			} else {
				parts = append(parts, name)
			}
		}
		fmt.Fprintf(&s, "  +%.3f s (%3.0f ms after the last answer) → +%.3f s (%4.0f ms): %s\n",
			at(st.from), ms(st.from.Sub(end)), at(st.to), ms(st.to.Sub(st.from)), strings.Join(parts, ", "))
		end = st.to
	}
	fmt.Fprintf(&s, "  last answer → exit %.0f ms", ms(r.start.Add(r.wall).Sub(end)))
	return s.String()
}
