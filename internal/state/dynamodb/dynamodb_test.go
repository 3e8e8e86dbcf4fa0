package dynamodb_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/iampolicy"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/state/dynamodb"
	"github.com/keywarden/keywarden/internal/state/memstore"
	"github.com/keywarden/keywarden/internal/state/statetest"
	"github.com/keywarden/keywarden/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

var tables atomic.Int64

// newTable starts (or resets) moto and creates a state table with a unique
// name; it returns the table's name and the server.
func newTable(t *testing.T) (string, *testenv.MotoServer) {
	t.Helper()
	m := testenv.Moto(t)
	name := fmt.Sprintf("keywarden-state-%d", tables.Add(1))
	if err := dynamodb.CreateTable(context.Background(), client(t, m), name, time.Minute); err != nil {
		t.Fatalf("CreateTable(%s) error: %v", name, err)
	}
	return name, m
}

// client is a new DynamoDB client on moto, as a second process would have.
func client(t *testing.T, m *testenv.MotoServer) *ddb.Client {
	return ddb.NewFromConfig(m.Config(t))
}

// countingClient is a client whose operations c counts.
func countingClient(t *testing.T, m *testenv.MotoServer, c *awsapi.Counter) *ddb.Client {
	return ddb.NewFromConfig(c.Instrument(m.Config(t)))
}

func open(t *testing.T, m *testenv.MotoServer, table string, opts ...dynamodb.Option) *dynamodb.Store {
	t.Helper()
	s, err := dynamodb.Open(context.Background(), client(t, m), table, opts...)
	if err != nil {
		t.Fatalf("Open(%s) error: %v", table, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the suite, each handle with its own client, and
// checks that the operations it called are Operations, no more, no fewer,
// and that the IAM actions keywarden iam-policy grants for a DynamoDB state
// cover every one of them and grant nothing they do not need.
func TestConformance(t *testing.T) {
	called := awsapi.NewCounter()
	statetest.Run(t, func(t *testing.T) statetest.Opener {
		table, m := newTable(t)
		return func(t *testing.T) state.Store {
			s, err := dynamodb.Open(context.Background(), countingClient(t, m, called), table)
			if err != nil {
				t.Fatalf("Open(%s) error: %v", table, err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}
	})
	var want []string
	for _, a := range dynamodb.Operations {
		want = append(want, "DynamoDB."+strings.TrimPrefix(a, "dynamodb:"))
	}
	if diff := cmp.Diff(want, called.Operations()); diff != "" {
		t.Errorf("operations called by the conformance suite (-Operations +called):\n%s", diff)
	}
	cfg := config.Default()
	cfg.State.URL = "dynamodb://keywarden"
	doc, err := iampolicy.For(cfg, iampolicy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, op := range dynamodb.Operations {
		ok, by := doc.Covers(op)
		if !ok {
			t.Errorf("iam-policy for a DynamoDB state does not cover %s", op)
		}
		for _, a := range by {
			used[a] = true
		}
	}
	for _, a := range iampolicy.DynamoDBActions {
		if !used[a] {
			t.Errorf("iam-policy grants %s, which no operation of the store needs", a)
		}
	}
}

// TestConformanceSmallPages runs the suite again with one item per Query
// page, so that every list is read across pages.
func TestConformanceSmallPages(t *testing.T) {
	statetest.Run(t, func(t *testing.T) statetest.Opener {
		table, m := newTable(t)
		return func(t *testing.T) state.Store { return open(t, m, table, dynamodb.PageSize(1)) }
	})
}

func TestOpenMissingTable(t *testing.T) {
	m := testenv.Moto(t)
	_, err := dynamodb.Open(context.Background(), client(t, m), "no-such-table")
	if !errors.Is(err, dynamodb.ErrNoTable) {
		t.Fatalf("Open(missing table) error = %v; want ErrNoTable", err)
	}
	for _, want := range []string{"DynamoDB table no-such-table: table not found",
		"create it with keywarden's Terraform module or CloudFormation template", "check the table name, account and region"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open(missing table) error = %q; want it to say %q", err, want)
		}
	}
}

func TestOpenInvalidTableName(t *testing.T) {
	_, err := dynamodb.Open(context.Background(), nil, "a")
	if err == nil || !strings.Contains(err.Error(), `DynamoDB table "a": not a table name`) {
		t.Errorf("Open(\"a\") error = %v; want the name refused", err)
	}
}

func TestOpenWrongKeySchema(t *testing.T) {
	m := testenv.Moto(t)
	c := client(t, m)
	_, err := c.CreateTable(context.Background(), &ddb.CreateTableInput{
		TableName:            aws.String("other-table"),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = dynamodb.Open(context.Background(), c, "other-table")
	if err == nil || !strings.Contains(err.Error(), "DynamoDB table other-table has the key schema (id HASH); keywarden needs (pk HASH, sk RANGE)") {
		t.Errorf("Open(table with another key schema) error = %v; want the schemas named", err)
	}
}

// TestCreateTableInput pins the schema the deployment templates must
// match.
func TestCreateTableInput(t *testing.T) {
	in := dynamodb.CreateTableInput("t1")
	got := map[string]any{
		"billing": in.BillingMode,
		"keys":    keys(in.KeySchema),
		"attrs":   len(in.AttributeDefinitions),
		"index":   aws.ToString(in.GlobalSecondaryIndexes[0].IndexName),
		"ikeys":   keys(in.GlobalSecondaryIndexes[0].KeySchema),
		"proj":    in.GlobalSecondaryIndexes[0].Projection.ProjectionType,
	}
	want := map[string]any{
		"billing": types.BillingModePayPerRequest,
		"keys":    "pk HASH, sk RANGE",
		"attrs":   4,
		"index":   "gsi1",
		"ikeys":   "gsi1pk HASH, gsi1sk RANGE",
		"proj":    types.ProjectionTypeAll,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CreateTableInput (-want +got):\n%s", diff)
	}
	for _, a := range in.AttributeDefinitions {
		if a.AttributeType != types.ScalarAttributeTypeS {
			t.Errorf("attribute %s has type %s; want S", aws.ToString(a.AttributeName), a.AttributeType)
		}
	}
}

func keys(ks []types.KeySchemaElement) string {
	var s []string
	for _, k := range ks {
		s = append(s, aws.ToString(k.AttributeName)+" "+string(k.KeyType))
	}
	return strings.Join(s, ", ")
}

// TestItemsRoundTrip writes a notice, an action and its lock, and checks
// the items as DynamoDB holds them: the keys and index keys doc.go
// describes, no empty strings, and the data read back.
func TestItemsRoundTrip(t *testing.T) {
	table, m := newTable(t)
	s := open(t, m, table)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	key := state.NoticeKey{Finding: "f1", Audience: "alice@example.com"}
	if ok, err := s.Claim(ctx, state.Claim{Key: key, Account: "123456789012", User: "alice", KeyID: "AKIA1", Rule: "access_key_age",
		Stage: 80, Day: "2026-11-23", RemindEvery: 3, Run: "run-1", Now: t0}); err != nil || !ok {
		t.Fatalf("Claim = %v, %v; want true", ok, err)
	}
	if err := s.Sent(ctx, key, "run-1", "2026-11-23", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	a := state.Action{ID: "run-1.1", Run: "run-1", Account: "123456789012", User: "alice", Credential: "access_key", KeyID: "AKIA1",
		Kind: state.KindDisable, Rule: "access_key_age", Stage: 80, FindingID: "f1", Status: state.ActionPlanned, Before: state.KeyActive, At: t0}
	if err := s.RecordAction(ctx, a); err != nil {
		t.Fatal(err)
	}

	c := client(t, m)
	raw := func(pk, sk string) map[string]string {
		t.Helper()
		out, err := c.GetItem(ctx, &ddb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for k, v := range out.Item {
			switch v := v.(type) {
			case *types.AttributeValueMemberS:
				if v.Value == "" {
					t.Errorf("item %s/%s: attribute %s is an empty string; want it absent", pk, sk, k)
				}
				got[k] = v.Value
			case *types.AttributeValueMemberN:
				got[k] = "N:" + v.Value
			default:
				t.Errorf("item %s/%s: attribute %s has type %T", pk, sk, k, v)
			}
		}
		return got
	}
	wantNotice := map[string]string{"pk": "NOTICE#f1", "sk": "TO#alice@example.com", "finding": "f1", "audience": "alice@example.com",
		"account": "123456789012", "user": "alice", "key_id": "AKIA1", "rule": "access_key_age", "stage": "N:80", "claim_stage": "N:80",
		"first_day": "2026-11-23", "last_day": "2026-11-23", "count": "N:1", "updated_at": "2026-11-23T09:01:00.000000000Z",
		"gsi1pk": "OPEN_NOTICES", "gsi1sk": "123456789012#f1#alice@example.com"}
	if diff := cmp.Diff(wantNotice, raw("NOTICE#f1", "TO#alice@example.com")); diff != "" {
		t.Errorf("notice item (-want +got):\n%s", diff)
	}
	wantAction := map[string]string{"pk": "ACTION#run-1.1", "sk": "ACTION", "id": "run-1.1", "run": "run-1", "account": "123456789012",
		"user": "alice", "credential": "access_key", "key_id": "AKIA1", "kind": "disable", "rule": "access_key_age", "stage": "N:80",
		"finding_id": "f1", "status": "planned", "before": "Active", "target": "123456789012/alice/AKIA1",
		"at": "2026-11-23T09:00:00.000000000Z", "seq": "N:1", "gsi1pk": "ACTIONS", "gsi1sk": "2026-11-23T09:00:00.000000000Z#0000000000000000001"}
	if diff := cmp.Diff(wantAction, raw("ACTION#run-1.1", "ACTION")); diff != "" {
		t.Errorf("action item (-want +got):\n%s", diff)
	}
	wantLock := map[string]string{"pk": "LOCK#123456789012/alice/AKIA1", "sk": "LOCK", "action_id": "run-1.1", "run": "run-1",
		"target": "123456789012/alice/AKIA1", "at": "2026-11-23T09:00:00.000000000Z", "gsi1pk": "LOCKS", "gsi1sk": "123456789012/alice/AKIA1"}
	if diff := cmp.Diff(wantLock, raw("LOCK#123456789012/alice/AKIA1", "LOCK")); diff != "" {
		t.Errorf("lock item (-want +got):\n%s", diff)
	}

	// Read back through another handle.
	s2 := open(t, m, table)
	ns, err := s2.Notices(ctx, []string{"123456789012"})
	if err != nil || len(ns) != 1 || ns[0].Stage != 80 || ns[0].Count != 1 || ns[0].ClaimRun != "" || ns[0].ClaimStage != 0 {
		t.Errorf("Notices() = %+v, %v; want the delivered notice, no claim", ns, err)
	}
	as, err := s2.Actions(ctx, state.ActionFilter{Status: state.ActionPlanned})
	if diff := cmp.Diff([]state.Action{a}, as, cmpopts.EquateApproxTime(0)); err != nil || diff != "" {
		t.Errorf("Actions(planned) error %v, (-want +got):\n%s", err, diff)
	}

	// Finishing releases the lock in the same transaction.
	if err := s2.FinishAction(ctx, a.ID, state.Outcome{Status: state.ActionDone, Before: state.KeyActive, After: state.KeyInactive, At: t0.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	if got := raw("LOCK#123456789012/alice/AKIA1", "LOCK"); len(got) != 0 {
		t.Errorf("lock item after FinishAction = %v; want it deleted", got)
	}
	if got := raw("ACTION#run-1.1", "ACTION"); got["status"] != "done" || got["after"] != "Inactive" || got["finished_at"] != "2026-11-23T09:00:01.000000000Z" {
		t.Errorf("action item after FinishAction = %v; want done, after Inactive, finished", got)
	}
	if as, err := s2.Actions(ctx, state.ActionFilter{Status: state.ActionPlanned}); err != nil || len(as) != 0 {
		t.Errorf("Actions(planned) after FinishAction = %v, %v; want none", as, err)
	}
}

// TestInFlightNamesTheHolder: the refusal names the action and the run that
// hold the lock, as the SQLite store's does.
func TestInFlightNamesTheHolder(t *testing.T) {
	table, m := newTable(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	a := state.Action{ID: "run-1.1", Run: "run-1", Account: "123456789012", User: "alice", Credential: "access_key", KeyID: "AKIA1",
		Kind: state.KindDisable, Status: state.ActionPlanned, At: t0}
	if err := open(t, m, table).RecordAction(ctx, a); err != nil {
		t.Fatal(err)
	}
	b := a
	b.ID, b.Run = "run-2.4", "run-2"
	called := awsapi.NewCounter()
	s2, err := dynamodb.Open(ctx, countingClient(t, m, called), table)
	if err != nil {
		t.Fatal(err)
	}
	err = s2.RecordAction(ctx, b)
	want := "record action run-2.4 on 123456789012/alice/AKIA1: " + state.ErrActionInFlight.Error() + " (run-1.1 of run run-1)"
	if !errors.Is(err, state.ErrActionInFlight) || err.Error() != want {
		t.Errorf("RecordAction(held key) error = %v; want %q", err, want)
	}
	// The holder comes with the cancelled transaction (ALL_OLD), not from
	// a second read.
	if n := called.ByOperation()["DynamoDB.GetItem"]; n != 0 {
		t.Errorf("RecordAction(held key) read %d items; want the holder from the cancellation reason", n)
	}
}

// TestPagination: lists longer than a page are read whole, in order, and
// a limit stops the reading early.
func TestPagination(t *testing.T) {
	table, m := newTable(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	w := open(t, m, table)
	const n = 7
	var wantActions, wantRuns []string
	for i := range n {
		id := fmt.Sprintf("r%d.1", i)
		a := state.Action{ID: id, Run: "r", Account: "123456789012", User: "alice", Credential: "access_key",
			KeyID: fmt.Sprintf("AKIA%d", i), Kind: state.KindDisable, Status: state.ActionDone, At: t0.Add(time.Duration(i/2) * time.Minute)}
		if err := w.RecordAction(ctx, a); err != nil {
			t.Fatal(err)
		}
		wantActions = append([]string{id}, wantActions...)
		run := fmt.Sprintf("run-%d", i)
		if err := w.RecordRun(ctx, state.Run{ID: run, StartedAt: t0.Add(time.Duration(i) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		wantRuns = append([]string{run}, wantRuns...)
		if ok, err := w.Claim(ctx, state.Claim{Key: state.NoticeKey{Finding: fmt.Sprintf("f%d", i), Audience: "a@example.com"},
			Account: "123456789012", Stage: 1, Day: "2026-11-23", RemindEvery: 1, Run: "r", Now: t0}); err != nil || !ok {
			t.Fatalf("Claim %d = %v, %v", i, ok, err)
		}
	}
	for _, size := range []int32{1, 2, 3, 100} {
		s := open(t, m, table, dynamodb.PageSize(size))
		as, err := s.Actions(ctx, state.ActionFilter{})
		if got := ids(as, func(a state.Action) string { return a.ID }); err != nil || !cmp.Equal(got, wantActions) {
			t.Errorf("page size %d: Actions() = %v, %v; want %v", size, got, err, wantActions)
		}
		as, err = s.Actions(ctx, state.ActionFilter{Limit: 3})
		if got := ids(as, func(a state.Action) string { return a.ID }); err != nil || !cmp.Equal(got, wantActions[:3]) {
			t.Errorf("page size %d: Actions(limit 3) = %v, %v; want %v", size, got, err, wantActions[:3])
		}
		rs, err := s.Runs(ctx, 0)
		if got := ids(rs, func(r state.Run) string { return r.ID }); err != nil || !cmp.Equal(got, wantRuns) {
			t.Errorf("page size %d: Runs() = %v, %v; want %v", size, got, err, wantRuns)
		}
		rs, err = s.Runs(ctx, 2)
		if got := ids(rs, func(r state.Run) string { return r.ID }); err != nil || !cmp.Equal(got, wantRuns[:2]) {
			t.Errorf("page size %d: Runs(2) = %v, %v; want %v", size, got, err, wantRuns[:2])
		}
		for _, accounts := range [][]string{nil, {"123456789012"}} {
			ns, err := s.Notices(ctx, accounts)
			if err != nil || len(ns) != n {
				t.Errorf("page size %d: Notices(%v) = %d notices, %v; want %d", size, accounts, len(ns), err, n)
			}
		}
	}
	// Moto pages a Query by Limit: the small pages above really were
	// several requests.
	out, err := client(t, m).Query(ctx, &ddb.QueryInput{TableName: aws.String(table), IndexName: aws.String(dynamodb.IndexName),
		KeyConditionExpression:    aws.String("gsi1pk = :p"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "ACTIONS"}},
		Limit:                     aws.Int32(2)})
	if err != nil || len(out.Items) != 2 || out.LastEvaluatedKey == nil {
		t.Errorf("Query(Limit 2) = %d items, LastEvaluatedKey %v, %v; want 2 and a key to go on from", len(out.Items), out.LastEvaluatedKey, err)
	}
}

func ids[T any](xs []T, id func(T) string) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}

// TestReadOnlyWritesNothing: a read-only store (a dry run) reads, and
// every write fails with ErrReadOnly and leaves the table as it was.
func TestReadOnlyWritesNothing(t *testing.T) {
	table, m := newTable(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	key := state.NoticeKey{Finding: "f1", Audience: "a@example.com"}
	claim := state.Claim{Key: key, Account: "123456789012", Stage: 1, Day: "2026-11-23", RemindEvery: 1, Run: "r", Now: t0}
	if ok, err := open(t, m, table).Claim(ctx, claim); err != nil || !ok {
		t.Fatal(ok, err)
	}
	ro := open(t, m, table, dynamodb.ReadOnly())
	k := state.KeyRef{Account: "123456789012", User: "alice", KeyID: "AKIA1"}
	a := state.Action{ID: "x.1", Run: "x", Account: "1", User: "u", Kind: "disable", Status: state.ActionPlanned, At: t0}
	writes := map[string]error{
		"RecordAction":   ro.RecordAction(ctx, a),
		"FinishAction":   ro.FinishAction(ctx, "x.1", state.Outcome{Status: state.ActionDone}),
		"Sent":           ro.Sent(ctx, key, "r", "2026-11-23", t0),
		"Release":        ro.Release(ctx, key, "r"),
		"RecordRun":      ro.RecordRun(ctx, state.Run{ID: "x"}),
		"RecordInactive": ro.RecordInactive(ctx, k, "2026-11-23", true),
		"ForgetInactive": ro.ForgetInactive(ctx, k),
	}
	_, writes["Claim"] = ro.Claim(ctx, claim)
	_, writes["Resolve"] = ro.Resolve(ctx, []string{"f1"}, "2026-11-23", t0)
	for op, err := range writes {
		if !errors.Is(err, dynamodb.ErrReadOnly) {
			t.Errorf("%s on a read-only store error = %v; want ErrReadOnly", op, err)
		}
	}
	ns, err := ro.Notices(ctx, nil)
	if err != nil || len(ns) != 1 || ns[0].ClaimRun != "r" || ns[0].LastDay != "" {
		t.Errorf("Notices() on the read-only store = %+v, %v; want the claimed notice, unchanged", ns, err)
	}
	if as, err := ro.Actions(ctx, state.ActionFilter{}); err != nil || len(as) != 0 {
		t.Errorf("Actions() = %v, %v; want none", as, err)
	}
}

// conflicting fails the first n TransactWriteItems as DynamoDB does when
// another transaction holds an item (TransactionConflict), and counts the
// calls.
type conflicting struct {
	dynamodb.API
	n, calls int
}

func (c *conflicting) TransactWriteItems(ctx context.Context, in *ddb.TransactWriteItemsInput, o ...func(*ddb.Options)) (*ddb.TransactWriteItemsOutput, error) {
	if c.calls++; c.calls <= c.n {
		reasons := make([]types.CancellationReason, len(in.TransactItems))
		for i := range reasons {
			reasons[i].Code = aws.String("None")
		}
		reasons[len(reasons)-1].Code = aws.String("TransactionConflict")
		return nil, &types.TransactionCanceledException{Message: aws.String("Transaction cancelled"), CancellationReasons: reasons}
	}
	return c.API.TransactWriteItems(ctx, in, o...)
}

func TestTransactionConflictIsTriedAgain(t *testing.T) {
	table, m := newTable(t)
	ctx := context.Background()
	a := state.Action{ID: "run-1.1", Run: "run-1", Account: "123456789012", User: "alice", Credential: "access_key", KeyID: "AKIA1",
		Kind: state.KindDisable, Status: state.ActionPlanned, At: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	for _, tt := range []struct {
		conflicts, calls int
		ok               bool
	}{{2, 3, true}, {9, 5, false}} {
		c := &conflicting{API: client(t, m), n: tt.conflicts}
		s, err := dynamodb.Open(ctx, c, table)
		if err != nil {
			t.Fatal(err)
		}
		err = s.RecordAction(ctx, a)
		var tc *types.TransactionCanceledException
		if tt.ok && err != nil || !tt.ok && (!errors.As(err, &tc) || errors.Is(err, state.ErrActionInFlight)) {
			t.Errorf("%d conflicts: RecordAction error = %v; want ok %v (a lasting conflict is not an in-flight lock)", tt.conflicts, err, tt.ok)
		}
		if c.calls != tt.calls {
			t.Errorf("%d conflicts: %d TransactWriteItems calls; want %d", tt.conflicts, c.calls, tt.calls)
		}
	}
}

// TestSentAfterResolve: a notice resolved while a run holds its claim and
// then delivered is reopened and starts over, as in the memstore (and
// SQLite) store.
func TestSentAfterResolve(t *testing.T) {
	table, m := newTable(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	key := state.NoticeKey{Finding: "f1", Audience: "a@example.com"}
	claim := func(day, run string) state.Claim {
		return state.Claim{Key: key, Account: "123456789012", Stage: 70, Day: day, RemindEvery: 1, Run: run, Now: t0}
	}
	var got [2][]state.Notice
	for i, s := range []state.Store{open(t, m, table), memstore.New()} {
		for _, step := range []func() error{
			func() error { _, err := s.Claim(ctx, claim("2026-11-01", "r1")); return err },
			func() error { return s.Sent(ctx, key, "r1", "2026-11-01", t0) },
			func() error { _, err := s.Claim(ctx, claim("2026-11-02", "r2")); return err },
			func() error { _, err := s.Resolve(ctx, []string{"f1"}, "2026-11-02", t0); return err },
			func() error { return s.Sent(ctx, key, "r2", "2026-11-02", t0) },
		} {
			if err := step(); err != nil {
				t.Fatalf("store %d: %v", i, err)
			}
		}
		got[i] = notices(t, s)
	}
	if diff := cmp.Diff(got[1], got[0], cmpopts.EquateApproxTime(0)); diff != "" {
		t.Errorf("notices after a delivery of a resolved notice (-memstore +dynamodb):\n%s", diff)
	}
	if len(got[0]) != 1 || got[0][0].FirstDay != "2026-11-02" || got[0][0].Count != 1 {
		t.Errorf("notices = %+v; want one, reopened: first told 2026-11-02, once", got[0])
	}
}

func notices(t *testing.T, s state.Store) []state.Notice {
	t.Helper()
	ns, err := s.Notices(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// TestItemsWrittenBeforeForcedAsOf: a run and an action item as keywarden
// wrote them before forced_as_of existed read back with every field, and
// no forced --as-of (they acted on the wall clock): they need no migration.
func TestItemsWrittenBeforeForcedAsOf(t *testing.T) {
	table, m := newTable(t)
	ctx := context.Background()
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
	at := "2026-11-23T09:00:00.000000000Z"
	for _, it := range []map[string]types.AttributeValue{
		{"pk": s("RUN#run-1"), "sk": s("RUN"), "id": s("run-1"), "mode": s("apply"), "as_of": s(at), "started_at": s(at),
			"finished_at": s(at), "accounts": n("1"), "findings": n("2"), "gsi1pk": s("RUNS"), "gsi1sk": s(at + "#run-1")},
		{"pk": s("ACTION#run-1.1"), "sk": s("ACTION"), "id": s("run-1.1"), "run": s("run-1"), "account": s("123456789012"),
			"user": s("alice"), "credential": s("access_key"), "key_id": s("AKIA1"), "kind": s("disable"), "status": s("done"),
			"target": s("123456789012/alice/AKIA1"), "at": s(at), "seq": n("1"), "gsi1pk": s("ACTIONS"),
			"gsi1sk": s(at + "#0000000000000000001")},
	} {
		if _, err := client(t, m).PutItem(ctx, &ddb.PutItemInput{TableName: aws.String(table), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	st := open(t, m, table)
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	runs, err := st.Runs(ctx, 0)
	want := []state.Run{{ID: "run-1", Mode: "apply", AsOf: t0, StartedAt: t0, FinishedAt: t0, Accounts: 1, Findings: 2}}
	if err != nil || cmp.Diff(want, runs, cmpopts.EquateApproxTime(0)) != "" {
		t.Errorf("Runs() = %+v, %v; want %+v", runs, err, want)
	}
	acts, err := st.Actions(ctx, state.ActionFilter{})
	wantA := []state.Action{{ID: "run-1.1", Run: "run-1", Account: "123456789012", User: "alice", Credential: "access_key",
		KeyID: "AKIA1", Kind: "disable", Status: state.ActionDone, At: t0}}
	if err != nil || cmp.Diff(wantA, acts, cmpopts.EquateApproxTime(0)) != "" {
		t.Errorf("Actions() = %+v, %v; want %+v", acts, err, wantA)
	}
}
