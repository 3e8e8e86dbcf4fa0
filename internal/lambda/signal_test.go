package lambda

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keywarden/keywarden/internal/run"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/testenv"
)

// TestInvokeStopsAtSIGTERM: the runtime's SIGTERM (Deps.Stop) arrives
// while the first of three disables is in flight: the invocation finishes
// and records it, starts neither other action nor any message, records
// the run as interrupted and says so in its answer, within its deadline.
func TestInvokeStopsAtSIGTERM(t *testing.T) {
	m := testenv.Moto(t)
	var users []testenv.SeedUser
	for _, name := range []string{"alice", "carol", "dave"} {
		users = append(users, testenv.SeedUser{Name: name, Tags: map[string]string{"Email": name + "@example.com"},
			Keys: []testenv.SeedKey{{AgeDays: 85, LastUsedDaysAgo: 1}}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1})
	}
	m.Seed(t, users)
	store := stateTable(t, m)
	p := m.NewProxy(t)
	stop, sigterm := context.WithCancelCause(context.Background())
	p.Inject(testenv.Fault{Match: testenv.IsOp("iam:UpdateAccessKey"), Times: 1, After: func(testenv.Op) {
		sigterm(&run.Interrupted{Signal: syscall.SIGTERM})
		time.Sleep(time.Second) // the answer waits: the action is in flight when the stop reaches the run
	}})
	cfg := lambdaConfig + fmt.Sprintf("enforce:\n  mode: apply\n  allowed_accounts: [%q]\n  max_fraction: 1\n", testenv.AccountID)
	var logs bytes.Buffer
	h := New(Deps{Getenv: envOf(map[string]string{EnvConfig: cfg}), Now: time.Now, Logs: &logs, Stop: stop,
		LoadAWSConfig: func(context.Context) (aws.Config, error) { return p.Config(t, m), nil }})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := h.Invoke(ctx, json.RawMessage(`{}`))
	if err != nil {
		t.Fatalf("Invoke: %v\n%s", err, logs.String())
	}
	if ctx.Err() != nil {
		t.Errorf("the function answered after its deadline")
	}
	if s.ActionsDone != 1 || s.ActionsFailed != 0 || s.Sent != 0 || !strings.HasPrefix(s.Interrupted, "interrupted by SIGTERM") {
		t.Errorf("summary = %+v; want 1 action done, none failed, nothing sent, interrupted by SIGTERM", s)
	}
	recs, err := store.Actions(ctx, state.ActionFilter{})
	if err != nil || len(recs) != 1 || recs[0].Status != state.ActionDone {
		t.Errorf("action records = %+v, %v; want the one in flight, done (none planned)", recs, err)
	}
	if runs, err := store.Runs(ctx, 0); err != nil || len(runs) != 1 || !strings.HasPrefix(runs[0].Error, "interrupted by SIGTERM") {
		t.Errorf("runs = %+v, %v; want this run, recorded as interrupted by SIGTERM", runs, err)
	}
}

// TestInvokeWorkDeadlineFinishesTheActionInFlight: the work deadline (the
// margin before the function's) passes while the first of three disables
// is in flight: it is finished and recorded done, the other two are not
// started (listed as not reached, nothing left planned in the state), and
// the function still answers within its deadline.
func TestInvokeWorkDeadlineFinishesTheActionInFlight(t *testing.T) {
	m := testenv.Moto(t)
	var users []testenv.SeedUser
	for _, name := range []string{"alice", "carol", "dave"} {
		users = append(users, testenv.SeedUser{Name: name, Tags: map[string]string{"Email": name + "@example.com"},
			Keys: []testenv.SeedKey{{AgeDays: 85, LastUsedDaysAgo: 1}}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1})
	}
	m.Seed(t, users)
	store := stateTable(t, m)
	p := m.NewProxy(t)
	const timeout = 6 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	dl, _ := ctx.Deadline()
	work := dl.Add(-timeout / 5) // the margin: a fifth of the time left, under DefaultMargin
	p.Inject(testenv.Fault{Match: testenv.IsOp("iam:UpdateAccessKey"), Times: 1, After: func(testenv.Op) {
		time.Sleep(time.Until(work.Add(300 * time.Millisecond))) // the answer comes after the work deadline
	}})
	cfg := lambdaConfig + fmt.Sprintf("enforce:\n  mode: apply\n  allowed_accounts: [%q]\n  max_fraction: 1\n", testenv.AccountID)
	var logs bytes.Buffer
	h := New(Deps{Getenv: envOf(map[string]string{EnvConfig: cfg}), Now: time.Now, Logs: &logs,
		LoadAWSConfig: func(context.Context) (aws.Config, error) { return p.Config(t, m), nil }})
	s, err := h.Invoke(ctx, json.RawMessage(`{}`))
	if err != nil {
		t.Fatalf("Invoke: %v\n%s", err, logs.String())
	}
	if ctx.Err() != nil {
		t.Errorf("the function answered after its deadline")
	}
	notStarted := 0
	for _, n := range s.NotReached {
		if strings.HasPrefix(n, "action: ") && strings.HasSuffix(n, "not started: "+run.ErrWorkDeadline.Error()+"; the next run carries it out") {
			notStarted++
		}
	}
	if s.ActionsDone != 1 || s.ActionsFailed != 0 || notStarted != 2 || s.Interrupted != "" {
		t.Errorf("summary = %+v; want 1 action done, none failed, 2 not started (not reached), not interrupted", s)
	}
	recs, err := store.Actions(context.Background(), state.ActionFilter{})
	if err != nil || len(recs) != 1 || recs[0].Status != state.ActionDone {
		t.Errorf("action records = %+v, %v; want the one in flight, done (none planned, none failed)", recs, err)
	}
}
