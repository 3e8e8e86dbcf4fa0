package dynamodb_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/state/dynamodb"
	"github.com/keywarden/keywarden/internal/state/statetest"
	"github.com/keywarden/keywarden/internal/testenv"
)

// writes matches the DynamoDB operations that change the table.
func writes(o testenv.Op) bool {
	switch o.Name() {
	case "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:TransactWriteItems":
		return true
	}
	return false
}

func dynamoOps(o testenv.Op) bool { return o.Service == "dynamodb" }

// conflict is DynamoDB's answer to a transaction that met another one on
// an item: cancelled, with a TransactionConflict reason.
var conflict = map[string]any{"CancellationReasons": []map[string]string{{"Code": "None"}, {"Code": "TransactionConflict"}}}

// proxiedClient is a DynamoDB client through p, retrying as often as a
// deployment would under faults, with short waits (the test's time) and no
// retry quota (a client that a whole suite of faults shares).
func proxiedClient(t *testing.T, m *testenv.MotoServer, p *testenv.Proxy) *ddb.Client {
	cfg := p.Config(t, m)
	cfg.RetryMaxAttempts = 10
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 10
			o.MaxBackoff = 20 * time.Millisecond
			o.RateLimiter = ratelimit.None
		})
	}
	return ddb.NewFromConfig(cfg)
}

// proxiedStore is a store on a new table through a proxy in front of
// moto, the proxy, and a store on the same table straight to moto.
func proxiedStore(t *testing.T) (*dynamodb.Store, *testenv.Proxy, *dynamodb.Store) {
	table, m := newTable(t)
	p := m.NewProxy(t)
	s, err := dynamodb.Open(context.Background(), proxiedClient(t, m, p), table)
	if err != nil {
		t.Fatal(err)
	}
	return s, p, open(t, m, table)
}

// TestConformanceUnderFaults runs the whole conformance suite against moto
// through the proxy, which fails DynamoDB calls at random (seeded): it
// throttles them, fails writes after they took effect (an error, or a
// dropped connection), and cancels transactions as conflicting, before or
// after they took effect. The SDK retries; the store's conditions and its
// recognition of its own earlier writes keep every assertion of the suite
// true: nothing is claimed, told, recorded or finished twice, and no write
// that took effect is reported as lost.
func TestConformanceUnderFaults(t *testing.T) {
	for _, tt := range []struct {
		name   string
		faults []testenv.Fault
		// min is the fewest faulted calls the suite must meet.
		min int64
	}{
		{"throttling", []testenv.Fault{
			{Match: dynamoOps, Code: "ProvisionedThroughputExceededException", Chance: 0.2, Seed: 1},
			{Match: dynamoOps, Code: "ThrottlingException", Chance: 0.1, Seed: 2},
		}, 100},
		{"errors after the write", []testenv.Fault{
			{Match: writes, AfterForward: true, Code: "ThrottlingException", Chance: 0.15, Seed: 3},
			{Match: writes, AfterForward: true, Status: http.StatusInternalServerError, Code: "InternalServerError", Chance: 0.15, Seed: 4},
			{Match: writes, AfterForward: true, Drop: true, Chance: 0.1, Seed: 5},
		}, 50},
		{"transaction conflicts", []testenv.Fault{
			{Match: testenv.IsOp("dynamodb:TransactWriteItems"), Code: "TransactionCanceledException", Fields: conflict, Chance: 0.2, Seed: 6},
			{Match: testenv.IsOp("dynamodb:TransactWriteItems"), AfterForward: true, Code: "TransactionCanceledException", Fields: conflict,
				Chance: 0.2, Seed: 7},
		}, 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var faulted atomic.Int64
			statetest.Run(t, func(t *testing.T) statetest.Opener {
				table, m := newTable(t)
				p := m.NewProxy(t)
				for _, f := range tt.faults {
					f.Before = func(testenv.Op) { faulted.Add(1) }
					p.Inject(f)
				}
				return func(t *testing.T) state.Store {
					s, err := dynamodb.Open(context.Background(), proxiedClient(t, m, p), table)
					if err != nil {
						t.Fatalf("Open(%s) error: %v", table, err)
					}
					t.Cleanup(func() { s.Close() })
					return s
				}
			})
			if n := faulted.Load(); n < tt.min {
				t.Errorf("%d calls faulted in the whole suite; want at least %d (the faults did not reach the store)", n, tt.min)
			}
			t.Logf("%d calls faulted", faulted.Load())
		})
	}
}

// TestWritesThatTookEffect: each write of the store whose first attempt
// took effect and lost its answer (then tried again by the SDK) reports
// success, as if it had been answered: a claim is not "lost", a delivery
// not recorded twice, an action neither refused as existing nor as
// finished.
func TestWritesThatTookEffect(t *testing.T) {
	s, p, check := proxiedStore(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	key := state.NoticeKey{Finding: "f1", Audience: "alice@example.com"}
	once := func(op string) {
		p.Inject(testenv.Fault{Match: testenv.IsOp(op), AfterForward: true, Status: http.StatusInternalServerError, Code: "InternalServerError", Times: 1})
	}

	once("dynamodb:UpdateItem")
	ok, err := s.Claim(ctx, state.Claim{Key: key, Account: "123456789012", Stage: 70, Day: "2026-11-23", RemindEvery: 1, Run: "run-1", Now: t0})
	if !ok || err != nil {
		t.Fatalf("Claim (took effect, answer lost) = %v, %v; want true", ok, err)
	}
	once("dynamodb:UpdateItem")
	if err := s.Sent(ctx, key, "run-1", "2026-11-23", t0); err != nil {
		t.Fatalf("Sent (took effect, answer lost) = %v; want nil, not %v", err, state.ErrClaimLost)
	}
	if ns := notices(t, check); len(ns) != 1 || ns[0].Count != 1 || ns[0].ClaimRun != "" {
		t.Errorf("notices = %+v; want one, told once, no claim", ns)
	}

	a := state.Action{ID: "run-1.1", Run: "run-1", Account: "123456789012", User: "alice", Credential: "access_key", KeyID: "AKIA1",
		Kind: state.KindDisable, Status: state.ActionPlanned, At: t0}
	p.Inject(testenv.Fault{Match: testenv.IsOp("dynamodb:TransactWriteItems"), AfterForward: true, Code: "TransactionCanceledException",
		Fields: conflict, Times: 1})
	if err := s.RecordAction(ctx, a); err != nil {
		t.Fatalf("RecordAction (took effect, answered a conflict) = %v; want nil", err)
	}
	once("dynamodb:TransactWriteItems")
	out := state.Outcome{Status: state.ActionDone, Reason: "disabled", Before: state.KeyActive, After: state.KeyInactive, At: t0.Add(time.Second)}
	if err := s.FinishAction(ctx, a.ID, out); err != nil {
		t.Fatalf("FinishAction (took effect, answer lost) = %v; want nil", err)
	}
	as, err := check.Actions(ctx, state.ActionFilter{})
	if err != nil || len(as) != 1 || as[0].Status != state.ActionDone {
		t.Errorf("actions = %+v, %v; want one, done", as, err)
	}
	if planned, _ := check.Actions(ctx, state.ActionFilter{Status: state.ActionPlanned}); len(planned) != 0 {
		t.Errorf("planned actions (held locks) = %+v; want none", planned)
	}
	once("dynamodb:UpdateItem")
	if n, err := s.Resolve(ctx, []string{"f1"}, "2026-11-24", t0); n != 1 || err != nil {
		t.Errorf("Resolve (took effect, answer lost) = %d, %v; want 1", n, err)
	}
	if got := p.Count("dynamodb:UpdateItem"); got < 4 {
		t.Errorf("%d UpdateItem calls; want the faulted ones tried again", got)
	}
}

// TestLastingFaultIsAnError: a write that fails every attempt is an error
// the caller sees, naming the table's item, not a lost claim or an action
// in flight.
func TestLastingFaultIsAnError(t *testing.T) {
	s, p, _ := proxiedStore(t)
	ctx := context.Background()
	p.Inject(testenv.Fault{Match: writes, Code: "ProvisionedThroughputExceededException"})
	key := state.NoticeKey{Finding: "f1", Audience: "alice@example.com"}
	_, err := s.Claim(ctx, state.Claim{Key: key, Account: "123456789012", Stage: 70, Day: "2026-11-23", RemindEvery: 1, Run: "run-1",
		Now: time.Now()})
	var pt *types.ProvisionedThroughputExceededException
	if !errors.As(err, &pt) || errors.Is(err, state.ErrClaimLost) {
		t.Errorf("Claim under lasting throttling = %v; want ProvisionedThroughputExceededException", err)
	}
	err = s.RecordAction(ctx, state.Action{ID: "run-1.1", Run: "run-1", Account: "123456789012", User: "alice", Credential: "access_key",
		KeyID: "AKIA1", Kind: state.KindDisable, Status: state.ActionPlanned, At: time.Now()})
	if err == nil || errors.Is(err, state.ErrActionInFlight) {
		t.Errorf("RecordAction under lasting throttling = %v; want an error, not in flight", err)
	}
}
