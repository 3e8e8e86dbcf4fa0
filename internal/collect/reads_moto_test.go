package collect

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/testenv"
)

// proxyCollector is a collector with the production retry settings
// (standard, awsapi.DefaultMaxAttempts, per-attempt timeouts), pointed at moto through p, each
// call counted in counter, and the default poll intervals.
func proxyCollector(t testing.TB, m *testenv.MotoServer, p *testenv.Proxy, counter *awsapi.Counter) *Collector {
	cfg := counter.Instrument(awsapi.WithRetries(p.Config(t, m), 0))
	return &Collector{IAM: iam.NewFromConfig(cfg), STS: sts.NewFromConfig(cfg), Logger: testLogger(t)}
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// ops returns the recorded requests of one operation ("iam:ListAccessKeys").
func ops(p *testenv.Proxy, name string) []testenv.Op {
	return slices.DeleteFunc(p.Ops(), func(op testenv.Op) bool { return op.Name() != name })
}

// TestSnapshotMotoReadsWhileReportGenerated: with a report IAM takes a
// second to build, the authorization details, the password policy, the
// alias, the account summary and the service-specific credentials reach
// AWS while it is built — before a GetCredentialReport that
// was answered ReportInProgress — and the report is read within the cap.
func TestSnapshotMotoReadsWhileReportGenerated(t *testing.T) {
	m := testenv.Moto(t)
	m.Seed(t, []testenv.SeedUser{{Name: "alice", Keys: []testenv.SeedKey{{AgeDays: 100, LastUsedDaysAgo: 1}}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1}})
	m.ExpireCredentialReport(t, time.Second)
	p := m.NewProxy(t)
	counter := awsapi.NewCounter()
	snap, err := proxyCollector(t, m, p, counter).Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Users) != 1 || snap.Users[0].Name != "alice" {
		t.Errorf("Snapshot() users = %v; want alice", snap.Users)
	}

	// Every GetCredentialReport but the last was answered
	// ReportInProgress: the report was not built when moto answered it.
	gets := ops(p, "iam:GetCredentialReport")
	if len(gets) < 2 {
		t.Fatalf("GetCredentialReport calls = %d; want at least 2 for a report built in a second", len(gets))
	}
	inProgress := gets[len(gets)-2]
	for _, op := range concurrentReads {
		name := "iam:" + op
		got := ops(p, name)
		if len(got) != 1 {
			t.Errorf("%s calls = %d; want 1", name, len(got))
			continue
		}
		if !got[0].At.Before(inProgress.Done) {
			t.Errorf("%s arrived %s after the GetCredentialReport answered ReportInProgress; want it while the report was built",
				name, got[0].At.Sub(inProgress.Done))
		}
	}
	reportCalls := p.Count("iam:GenerateCredentialReport") + len(gets)
	t.Logf("report built in 1s: %d GenerateCredentialReport and GetCredentialReport calls; API calls %v", reportCalls, counter.ByOperation())
	if reportCalls > DefaultMaxReportCalls {
		t.Errorf("report calls = %d; want at most %d", reportCalls, DefaultMaxReportCalls)
	}
	if want := 4 + reportCalls + 1 + 1; counter.Total() != want {
		t.Errorf("API calls = %d %v; want 4 + R + max(1, ceil(1/1000)) + S = %d with R = %d, S = 1", counter.Total(), counter.ByOperation(), want, reportCalls)
	}
}

// TestSnapshotMotoReportCallCap: a report IAM takes longer to build than
// the looks MaxReportCalls allows ends the wait at the cap, with a clear
// error, after exactly that many GenerateCredentialReport and
// GetCredentialReport calls.
func TestSnapshotMotoReportCallCap(t *testing.T) {
	m := testenv.Moto(t)
	m.ExpireCredentialReport(t, time.Hour)
	p := m.NewProxy(t)
	c := proxyCollector(t, m, p, awsapi.NewCounter())
	c.MaxReportCalls, c.PollInitial = 4, 10*time.Millisecond
	_, err := c.Snapshot(context.Background())
	const want = "generate credential report: credential report not ready after 4 GenerateCredentialReport and GetCredentialReport calls in "
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "scan again in a few minutes") {
		t.Errorf("Snapshot() = %v; want %q… and what to do", err, want)
	}
	if gen, get := p.Count("iam:GenerateCredentialReport"), p.Count("iam:GetCredentialReport"); gen != 1 || get != 3 {
		t.Errorf("GenerateCredentialReport %d, GetCredentialReport %d calls; want 1 and 3 (the cap of 4)", gen, get)
	}
}
