package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/collect"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/testenv"
)

var (
	delay    = flag.Duration("org.delay", 20*time.Millisecond, "fixed delay the proxy adds to every request, standing in for an AWS round trip")
	baseline = flag.Bool("org.baseline", true, "also run the baseline scanner (slow: one call per user and per key list)")
)

func TestMain(m *testing.M) {
	code := testenv.Main(m)
	if binary != "" { // built by keywardenBinary
		os.RemoveAll(filepath.Dir(binary))
	}
	os.Exit(code)
}

// staleEvery: one user in staleEvery has a key 100 days old (an
// access_key_age finding under the default policy); the others' keys are
// 10 days old. Every key was used yesterday.
const staleEvery = 10

// users describes n users of one account, 10% of them with a stale key.
func users(prefix string, n int) []testenv.SeedUser {
	out := make([]testenv.SeedUser, n)
	for i := range out {
		age := 10
		if i%staleEvery == 0 {
			age = 100
		}
		out[i] = testenv.SeedUser{
			Name:            fmt.Sprintf("%s-%05d", prefix, i),
			Tags:            map[string]string{"Email": fmt.Sprintf("%s-%05d@example.com", prefix, i)},
			Keys:            []testenv.SeedKey{{AgeDays: age, LastUsedDaysAgo: 1}},
			PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1,
		}
	}
	return out
}

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// keywardenBinary builds cmd/keywarden once.
func keywardenBinary(b *testing.B) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "keywarden-bench-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "keywarden")
		out, err := exec.Command("go", "build", "-o", binary, "../cmd/keywarden").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build keywarden: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return binary
}

// measured is one scanner's run.
type measured struct {
	name     string
	wall     time.Duration
	calls    int     // requests that reached the proxy
	rssMB    float64 // peak resident set (keywarden only)
	stale    int     // stale keys found
	accounts []report.Account
	// findings identify every finding (account, user, key, rule, age),
	// sorted: two scans of the same state must agree.
	findings []string
	// cpu is keywarden's processor time (user + system); motoCPU and
	// proxyCPU are moto's and the proxy's (this process's) over the run.
	cpu, motoCPU, proxyCPU time.Duration
	// start, ops and missed trace the run: when it started, the requests
	// the proxy saw, and those replay had no answer for.
	start  time.Time
	ops    []testenv.Op
	missed []testenv.Op
}

// replayed is how many of the run's requests the proxy answered from its
// recording.
func (r measured) replayed() int {
	n := 0
	for _, op := range r.ops {
		if op.Replayed {
			n++
		}
	}
	return n
}

// selfCPU is this process's processor time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// runKeywarden runs `keywarden scan` with config through the proxy and
// measures it: wall time, the proxy's request count, and the process's
// peak RSS (rusage ru_maxrss).
func runKeywarden(b *testing.B, m *testenv.MotoServer, p *testenv.Proxy, name, config string) (measured, *report.Report) {
	b.Helper()
	dir := b.TempDir()
	cfgFile := filepath.Join(dir, "keywarden.yaml")
	if err := os.WriteFile(cfgFile, []byte(config), 0o644); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, keywardenBinary(b), "scan", "--config", cfgFile, "--format", "json", "--quiet", "--log-level", "warn")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}, p.Env(m)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	p.Reset()
	motoCPU, proxyCPU := m.CPUTime(), selfCPU()
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		b.Fatalf("keywarden scan (%s): %v\nstderr: %s", name, err, stderr.String())
	}
	motoCPU, proxyCPU = m.CPUTime()-motoCPU, selfCPU()-proxyCPU
	var rep report.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		b.Fatalf("keywarden scan (%s): %v", name, err)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	ops := p.Ops()
	res := measured{name: name, wall: wall, calls: len(ops), rssMB: float64(ru.Maxrss) / 1024, accounts: rep.Accounts,
		cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), motoCPU: motoCPU, proxyCPU: proxyCPU,
		start: start, ops: ops, missed: p.Missed()}
	for _, f := range rep.Findings {
		if f.Rule == "access_key_age" {
			res.stale++
		}
		res.findings = append(res.findings, fmt.Sprintf("%s/%s/%s/%s/%d", f.Account, f.User, f.KeyID, f.Rule, f.AgeDays))
	}
	slices.Sort(res.findings)
	return res, &rep
}

// baselineScanner is what the baseline scanner reads per user.
type baselineScanner int

const (
	// keysOnly: one ListAccessKeys per user, like the seed scripts.
	keysOnly baselineScanner = iota
	// keysAndTags: ListAccessKeys and ListUserTags per user, like the
	// blog scripts that look for the key's owner in the user's tags.
	keysAndTags
)

func (bl baselineScanner) String() string {
	if bl == keysAndTags {
		return "baseline (ListUsers + ListAccessKeys + ListUserTags per user)"
	}
	return "baseline (ListUsers + ListAccessKeys per user)"
}

// baselineScan is how the common scripts scan an account: every page of
// ListUsers, then per user ListAccessKeys (and ListUserTags, for
// keysAndTags), one after the other, and a key is stale at 90 days.
func (bl baselineScanner) scan(ctx context.Context, cfg aws.Config, now time.Time) (stale int, err error) {
	client := iam.NewFromConfig(cfg)
	p := iam.NewListUsersPaginator(client, &iam.ListUsersInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		for _, u := range page.Users {
			keys, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: u.UserName})
			if err != nil {
				return 0, err
			}
			if bl == keysAndTags {
				if _, err := client.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: u.UserName}); err != nil {
					return 0, err
				}
			}
			for _, k := range keys.AccessKeyMetadata {
				if k.Status == "Active" && now.Sub(aws.ToTime(k.CreateDate)) >= 90*24*time.Hour {
					stale++
				}
			}
		}
	}
	return stale, nil
}

// runBaseline runs the baseline scanner bl in each account config in
// turn.
func runBaseline(b *testing.B, m *testenv.MotoServer, p *testenv.Proxy, bl baselineScanner, cfgs []aws.Config) measured {
	b.Helper()
	p.Reset()
	motoCPU := m.CPUTime()
	start := time.Now()
	res := measured{name: bl.String()}
	for _, cfg := range cfgs {
		n, err := bl.scan(context.Background(), cfg, start)
		if err != nil {
			b.Fatalf("baseline: %v", err)
		}
		res.stale += n
	}
	res.wall = time.Since(start)
	res.motoCPU = m.CPUTime() - motoCPU
	res.ops, res.missed = p.Ops(), p.Missed()
	res.calls = len(res.ops)
	res.start = start
	return res
}

// say prints a result line on stdout, as it comes: the testing package
// keeps only the first 10 lines of a passing benchmark's log.
func say(format string, args ...any) { fmt.Printf(format+"\n", args...) }

// table is the side-by-side result, as Markdown.
func table(title string, rows ...measured) string {
	var s strings.Builder
	fmt.Fprintf(&s, "\n%s (per-request delay %s)\n\n", title, *delay)
	s.WriteString("| scanner | wall time | API calls (replayed) | peak RSS | keywarden CPU | moto CPU | stale keys found |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		rss, cpu := "—", "—"
		if r.rssMB > 0 {
			rss, cpu = fmt.Sprintf("%.1f MB", r.rssMB), fmt.Sprintf("%.2f s", r.cpu.Seconds())
		}
		calls := fmt.Sprint(r.calls)
		if n := r.replayed(); n > 0 {
			calls = fmt.Sprintf("%d (%d)", r.calls, n)
		}
		fmt.Fprintf(&s, "| %s | %.2f s | %s | %s | %s | %.2f s | %d |\n", r.name, r.wall.Seconds(), calls, rss, cpu, r.motoCPU.Seconds(), r.stale)
	}
	return s.String()
}

// checkBudget checks each account's API calls against
// 4 + R + max(1, ceil(N/1000)) + F + S, with R its GenerateCredentialReport
// and GetCredentialReport calls (2 when the report is ready when first
// looked at, as moto's are unless told to take time; at most
// collect.DefaultMaxReportCalls), F the users with an access-key or
// signing-certificate finding (per kind) and S the pages of
// service-specific credentials (1: users seeds none), and against the
// requests the proxy saw in that account.
func checkBudget(b *testing.B, rep *report.Report, p *testenv.Proxy, caller string) {
	b.Helper()
	flagged := map[string]map[string]bool{}
	for _, f := range rep.Findings {
		if f.Credential == "access_key" || f.Credential == "signing_certificate" {
			if flagged[f.Account] == nil {
				flagged[f.Account] = map[string]bool{}
			}
			flagged[f.Account][f.User+" "+f.Credential] = true
		}
	}
	worst := 0.0
	for _, a := range rep.Accounts {
		if a.Status != report.StatusOK {
			b.Errorf("account %s: %s", a.ID, a.Error)
			continue
		}
		r := reportCalls(p, a.ID)
		if r < 2 || r > collect.DefaultMaxReportCalls {
			b.Errorf("account %s: %d report calls; want 2 to %d", a.ID, r, collect.DefaultMaxReportCalls)
		}
		const serviceCredentials = 0 // users seeds none
		s := max(1, (serviceCredentials+999)/1000)
		budget := 4 + r + max(1, (a.Users+999)/1000) + len(flagged[a.ID]) + s
		if a.APICalls > budget {
			b.Errorf("account %s: %d API calls; budget 4 + %d + max(1, ceil(%d/1000)) + %d + %d = %d", a.ID, a.APICalls, r, a.Users, len(flagged[a.ID]), s, budget)
		}
		if a.ID != caller && a.APICalls != p.CountIn(a.ID) {
			b.Errorf("account %s: report says %d API calls, the proxy saw %d", a.ID, a.APICalls, p.CountIn(a.ID))
		}
		worst = max(worst, float64(a.APICalls)/float64(budget))
	}
	b.ReportMetric(worst, "max-calls/budget")
}

// reportCalls is how many GenerateCredentialReport and GetCredentialReport
// requests the proxy saw in account.
func reportCalls(p *testenv.Proxy, account string) int {
	n := 0
	for _, op := range p.Ops() {
		if op.Account == account && (op.Name() == "iam:GenerateCredentialReport" || op.Name() == "iam:GetCredentialReport") {
			n++
		}
	}
	return n
}

// seededAccount is moto's account seeded with n users (users), behind a
// proxy that delays every request by -org.delay.
func seededAccount(b *testing.B, n int) (*testenv.MotoServer, *testenv.Proxy) {
	m := testenv.Moto(b)
	start := time.Now()
	m.Seed(b, users("user", n))
	say("seeded %d users in %s", n, time.Since(start).Round(time.Second))
	p := m.NewProxy(b)
	p.SetDelay(*delay)
	return m, p
}

// motoFloor is how long moto takes to serve one small request
// (ListAccessKeys), without the proxy: the serial floor under every scan.
func motoFloor(b *testing.B, cfg aws.Config, user string) time.Duration {
	b.Helper()
	c := iam.NewFromConfig(cfg)
	const n = 200
	start := time.Now()
	for range n {
		if _, err := c.ListAccessKeys(context.Background(), &iam.ListAccessKeysInput{UserName: aws.String(user)}); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start) / n
}

// BenchmarkOrgScaleOneAccount5000Users: one account of 5,000 users, 10%
// with a stale key, scanned by keywarden and by the baseline scanner.
// Targets: ≥ 20× faster than the baseline, ≤ 3 + R + max(1, ceil(N/1000)) + F calls,
// peak RSS ≤ 100 MB.
func BenchmarkOrgScaleOneAccount5000Users(b *testing.B) {
	const n = 5000
	m, p := seededAccount(b, n)

	for range b.N {
		kw, rep := runKeywarden(b, m, p, "keywarden scan", "version: 1\n")
		checkBudget(b, rep, p, "")
		rows := []measured{kw}
		if *baseline {
			base := runBaseline(b, m, p, keysAndTags, []aws.Config{p.Config(b, m)})
			rows = append(rows, base)
			speedup := base.wall.Seconds() / kw.wall.Seconds()
			b.ReportMetric(speedup, "speedup-vs-baseline")
			if speedup < 20 {
				b.Errorf("keywarden %.2fs vs baseline %.2fs: %.1f× faster; target 20×", kw.wall.Seconds(), base.wall.Seconds(), speedup)
			}
			if base.stale != kw.stale {
				b.Errorf("baseline found %d stale keys, keywarden %d", base.stale, kw.stale)
			}
		}
		b.ReportMetric(kw.wall.Seconds(), "keywarden-s")
		b.ReportMetric(float64(kw.calls), "keywarden-calls")
		b.ReportMetric(kw.rssMB, "keywarden-peak-rss-MB")
		if kw.rssMB > 100 {
			b.Errorf("keywarden peak RSS %.1f MB; target ≤ 100 MB", kw.rssMB)
		}
		if kw.stale != n/staleEvery {
			b.Errorf("keywarden found %d stale keys; want %d", kw.stale, n/staleEvery)
		}
		say("%s", table(fmt.Sprintf("One account, %d users, %d%% stale", n, 100/staleEvery), rows...))
	}
}

// BenchmarkOrgScale20Accounts500Users: an organization of 20 member
// accounts of 500 users each (created and seeded through the
// Organizations API and AssumeRole), scanned by keywarden with
// accounts.parallel 8 and 1, and by the baseline scanner. Target: parallel
// 8 ≥ 4× faster than parallel 1, replayed. It also reports how close the
// replayed parallel 8 scan comes to its processor-time floor (keywarden's
// and the proxy's CPU over the cores), which says whether a miss is the
// machine's cores or keywarden's waiting.
//
// moto serves one request at a time, with milliseconds of its own CPU per
// request (about 150 ms for a 500-user authorization-details answer), a
// serial floor under any parallelism that AWS, serving accounts in
// parallel, does not have. So parallel 8 and 1 are compared twice: live,
// against moto, and replayed: the live parallel 8 scan records moto's
// answers (testenv.Proxy.Record) and the proxy answers the replayed scans
// from that recording (Replay), after the same per-request delay, without
// moto. The target is checked on the replayed pair.
func BenchmarkOrgScale20Accounts500Users(b *testing.B) {
	const accounts, n = 20, 500
	m := testenv.Moto(b)
	start := time.Now()
	org := m.CreateOrganization(b, accounts)
	var cfgs []aws.Config
	for _, id := range org.Members {
		cfg := m.AssumeRoleConfig(b, "arn:aws:iam::"+id+":role/OrganizationAccountAccessRole")
		m.SeedInto(b, cfg, users("u"+id[:4], n))
		cfgs = append(cfgs, cfg)
	}
	say("seeded %d accounts × %d users in %s", accounts, n, time.Since(start).Round(time.Second))
	floor := motoFloor(b, cfgs[0], users("u"+org.Members[0][:4], 1)[0].Name)
	p := m.NewProxy(b)
	p.SetDelay(*delay)
	config := func(parallel int) string {
		// The management account (the caller, with no users) is left out:
		// 20 accounts of 500 users each.
		return fmt.Sprintf("version: 1\naccounts:\n  organization: { role_name: KeywardenAudit, exclude: [%q] }\n  parallel: %d\n", testenv.AccountID, parallel)
	}

	for range b.N {
		// The first scan generates every account's credential report; the
		// scans compared after it all reuse them (IAM, and moto, answer
		// COMPLETE for a report under four hours old), so they start
		// from the same state. The first compared scan is recorded, so
		// that the replayed ones get the same answers: the first scan's
		// GenerateCredentialReport answers STARTED.
		cold, rep := runKeywarden(b, m, p, "keywarden scan, parallel: 8, first scan (reports generated)", config(8))
		checkBudget(b, rep, p, testenv.AccountID)
		assumed := p.Count("sts:AssumeRole")
		// Each compared scan keeps to the budget, and the proxy, live or
		// replaying, attributes its requests to the accounts the report
		// counts them in.
		scan := func(name string, parallel int) measured {
			r, rep := runKeywarden(b, m, p, name, config(parallel))
			checkBudget(b, rep, p, testenv.AccountID)
			return r
		}
		p.Record()
		p8 := scan("keywarden scan, parallel: 8, live (recorded)", 8)
		p.Live()
		p1 := scan("keywarden scan, parallel: 1, live", 1)
		p.Replay()
		r8 := scan("keywarden scan, parallel: 8, replayed", 8)
		r1 := scan("keywarden scan, parallel: 1, replayed", 1)
		p.Live()
		rows := []measured{cold, p8, p1, r8, r1}
		if *baseline {
			// The baseline's AssumeRole happened at seeding; its configs
			// sign straight into each member, through the proxy.
			var viaProxy []aws.Config
			for _, c := range cfgs {
				c.BaseEndpoint = aws.String(p.URL)
				viaProxy = append(viaProxy, c)
			}
			base := runBaseline(b, m, p, keysAndTags, viaProxy)
			rows = append(rows, base)
			b.ReportMetric(base.wall.Seconds()/cold.wall.Seconds(), "speedup-vs-baseline")
		}
		live := p1.wall.Seconds() / p8.wall.Seconds()
		replay := r1.wall.Seconds() / r8.wall.Seconds()
		b.ReportMetric(live, "parallel8-vs-1-live")
		b.ReportMetric(replay, "parallel8-vs-1-replayed")
		b.ReportMetric(cold.rssMB, "keywarden-peak-rss-MB")
		b.ReportMetric(float64(len(r8.missed)+len(r1.missed)), "replay-misses")
		// Replayed, parallel 8 can be bound by processor time rather than
		// by waiting: keywarden's and the proxy's CPU, spread over every
		// core, is a floor no number of accounts in flight beats.
		cpuFloor := (r8.cpu + r8.proxyCPU) / time.Duration(runtime.NumCPU())
		b.ReportMetric(r8.wall.Seconds()/cpuFloor.Seconds(), "parallel8-replayed-vs-cpu-floor")
		if replay < 4 {
			b.Errorf("replayed: parallel 8 %.2fs vs parallel 1 %.2fs: %.1f× faster; target 4× (CPU floor %.2fs: %s of keywarden's and the proxy's CPU over %d cores)",
				r8.wall.Seconds(), r1.wall.Seconds(), replay, cpuFloor.Seconds(), (r8.cpu + r8.proxyCPU).Round(time.Millisecond), runtime.NumCPU())
		}
		for _, r := range rows[:5] {
			if len(r.accounts) != accounts || r.stale != accounts*n/staleEvery {
				b.Errorf("%s: %d accounts, %d stale keys; want %d and %d", r.name, len(r.accounts), r.stale, accounts, accounts*n/staleEvery)
			}
			// Every scan reads the same state: the same findings, down
			// to the key IDs, as the live parallel 8 scan.
			if !slices.Equal(r.findings, p8.findings) {
				b.Errorf("%s: %d findings, not the same as the %d of %s", r.name, len(r.findings), len(p8.findings), p8.name)
			}
		}
		for _, r := range []measured{r8, r1} {
			for _, op := range r.missed {
				b.Errorf("%s: replay had no answer for %s in %q (%v); it went to moto", r.name, op.Name(), op.Account, op.Params)
			}
		}
		b.ReportMetric(float64(floor.Microseconds())/1000, "moto-ms-per-request")
		say("moto alone serves a request in %s, one at a time (one Python process): the %d requests of a scan need at least %.1f s of moto's time, whatever the parallelism",
			floor.Round(10*time.Microsecond), p8.calls, floor.Seconds()*float64(p8.calls))
		say("keywarden (parallel 8) made %d AssumeRole calls as the caller, counted apart from the accounts' calls", assumed)
		say("recorded %d distinct requests; replay misses: parallel 8 %d, parallel 1 %d", p.Recorded(), len(r8.missed), len(r1.missed))
		say("parallel 8 vs 1: live %.1f×, replayed %.1f×", live, replay)
		say("%s", table(fmt.Sprintf("%d accounts × %d users, %d%% stale", accounts, n, 100/staleEvery), rows...))
		for _, r := range []measured{p8, p1, r8, r1} {
			say("%s", trace(r, *delay))
		}
	}
}
