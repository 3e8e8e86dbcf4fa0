package dynamodb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keywarden/keywarden/internal/state"
)

// API is the part of the DynamoDB client the store calls; production
// passes *dynamodb.Client. These are exactly the IAM actions the store
// needs on the table (and its index).
type API interface {
	DescribeTable(ctx context.Context, in *ddb.DescribeTableInput, optFns ...func(*ddb.Options)) (*ddb.DescribeTableOutput, error)
	GetItem(ctx context.Context, in *ddb.GetItemInput, optFns ...func(*ddb.Options)) (*ddb.GetItemOutput, error)
	PutItem(ctx context.Context, in *ddb.PutItemInput, optFns ...func(*ddb.Options)) (*ddb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *ddb.UpdateItemInput, optFns ...func(*ddb.Options)) (*ddb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *ddb.DeleteItemInput, optFns ...func(*ddb.Options)) (*ddb.DeleteItemOutput, error)
	Query(ctx context.Context, in *ddb.QueryInput, optFns ...func(*ddb.Options)) (*ddb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *ddb.TransactWriteItemsInput, optFns ...func(*ddb.Options)) (*ddb.TransactWriteItemsOutput, error)
}

var _ API = (*ddb.Client)(nil)

// Operations are the DynamoDB API operations the store calls on the table
// and its index. IAM authorizes a TransactWriteItems by its items' own
// actions (PutItem, UpdateItem); iampolicy.DynamoDBActions is what a role
// needs for them. A read-only store (dry runs) calls only DescribeTable,
// GetItem and Query.
var Operations = []string{
	"dynamodb:DeleteItem",
	"dynamodb:DescribeTable",
	"dynamodb:GetItem",
	"dynamodb:PutItem",
	"dynamodb:Query",
	"dynamodb:TransactWriteItems",
	"dynamodb:UpdateItem",
}

// Store is a state.Store in one DynamoDB table.
type Store struct {
	client   API
	table    string
	readOnly bool
	pageSize int32
}

var _ state.Store = (*Store)(nil)

// Option configures Open.
type Option func(*Store)

// ReadOnly makes every write fail with ErrReadOnly (dry runs): the store
// only reads.
func ReadOnly() Option { return func(s *Store) { s.readOnly = true } }

// PageSize sets the Limit of each Query page (default: DynamoDB's, up to
// 1 MB a page). Results are the same whatever the page size.
func PageSize(n int32) Option { return func(s *Store) { s.pageSize = n } }

// ErrReadOnly is returned by the writes of a read-only store.
var ErrReadOnly = errors.New("state is open read-only (dry run)")

// Open opens the state kept in table, checking that it exists and has
// keywarden's key schema (DescribeTable). It creates nothing.
func Open(ctx context.Context, client API, table string, opts ...Option) (*Store, error) {
	if !state.ValidTableName(table) {
		return nil, fmt.Errorf("DynamoDB table %q: not a table name (3-255 letters, digits, _ . -)", table)
	}
	s := &Store{client: client, table: table}
	for _, o := range opts {
		o(s)
	}
	if err := checkTable(ctx, client, table); err != nil {
		return nil, err
	}
	return s, nil
}

// Partition and sort key values, and the index partitions. See doc.go.
const (
	noticePrefix   = "NOTICE#"
	audiencePrefix = "TO#"
	runPrefix      = "RUN#"
	actionPrefix   = "ACTION#"
	lockPrefix     = "LOCK#"
	inactivePrefix = "INACTIVE#"

	runSK      = "RUN"
	actionSK   = "ACTION"
	lockSK     = "LOCK"
	inactiveSK = "INACTIVE"
	counterPK  = "COUNTER#actions"
	counterSK  = "COUNTER"

	openNotices = "OPEN_NOTICES"
	allRuns     = "RUNS"
	allActions  = "ACTIONS"
	heldLocks   = "LOCKS"
)

func noticeKey(k state.NoticeKey) item {
	return key(noticePrefix+k.Finding, audiencePrefix+k.Audience)
}

// writable refuses writes on a read-only store.
func (s *Store) writable(what string) error {
	if s.readOnly {
		return fmt.Errorf("%s in DynamoDB table %s: %w", what, s.table, ErrReadOnly)
	}
	return nil
}

// isConditionFailed reports whether err is a failed ConditionExpression,
// and returns the item as it was when the request asked for it
// (ReturnValuesOnConditionCheckFailure ALL_OLD).
func isConditionFailed(err error) (bool, item) {
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return true, cf.Item
	}
	return false, nil
}

// updateItem runs one UpdateItem on k, conditional on cond. A failed
// condition is not an error: ok is false and old is the item as it was
// (ReturnValuesOnConditionCheckFailure ALL_OLD; nil when there was none).
// The item may be this very write: an attempt that took effect and lost its
// answer, tried again by the SDK (or the caller), fails its condition on
// its own write; callers tell that from another writer's by old.
func (s *Store) updateItem(ctx context.Context, k item, upd, cond string, values item) (ok bool, old item, err error) {
	_, err = s.client.UpdateItem(ctx, &ddb.UpdateItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 k,
		UpdateExpression:                    aws.String(upd),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            names(upd, cond),
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if failed, old := isConditionFailed(err); failed {
		return false, old, nil
	}
	return err == nil, nil, err
}

// query runs q page by page (the SDK's paginator), calling each for every
// item until it returns false.
func (s *Store) query(ctx context.Context, q *ddb.QueryInput, each func(item) bool) error {
	q.TableName = aws.String(s.table)
	if s.pageSize > 0 {
		q.Limit = aws.Int32(s.pageSize)
	}
	p := ddb.NewQueryPaginator(s.client, q)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, it := range page.Items {
			if !each(it) {
				return nil
			}
		}
	}
	return nil
}

// queryIndex queries the index partition pk, optionally with a sort key
// condition (on #gsi1sk) and its values, newest first when desc.
func (s *Store) queryIndex(ctx context.Context, pk, skCond string, values item, desc bool, each func(item) bool) error {
	cond := "#gsi1pk = :gsi1pk"
	if skCond != "" {
		cond += " AND " + skCond
	}
	vals := item{":gsi1pk": str(pk)}
	for k, v := range values {
		vals[k] = v
	}
	return s.query(ctx, &ddb.QueryInput{
		IndexName:                 aws.String(IndexName),
		KeyConditionExpression:    aws.String(cond),
		ExpressionAttributeNames:  names(cond),
		ExpressionAttributeValues: vals,
		ScanIndexForward:          aws.Bool(!desc),
	}, each)
}

func decodeNotice(it item) state.Notice {
	n := state.Notice{
		NoticeKey: state.NoticeKey{Finding: it.str("finding"), Audience: it.str("audience")},
		Account:   it.str("account"), User: it.str("user"), KeyID: it.str("key_id"), Rule: it.str("rule"),
		Stage: it.num("stage"), FirstDay: it.str("first_day"), LastDay: it.str("last_day"), Count: it.num("count"),
		ClosedDay: it.str("closed_day"), UpdatedAt: it.time("updated_at"),
	}
	// claim_stage stays behind after a delivery or a release: it means
	// something only while claim_run is set.
	if n.ClaimRun = it.str("claim_run"); n.ClaimRun != "" {
		n.ClaimedAt, n.ClaimStage = it.time("claimed_at"), it.num("claim_stage")
	}
	return n
}

// Notices implements state.Store: one Query of the index's open-notices
// partition per account (or of the whole partition), sorted by key.
func (s *Store) Notices(ctx context.Context, accounts []string) ([]state.Notice, error) {
	var out []state.Notice
	each := func(it item) bool {
		// A closed notice claimed again is in the index, but not open
		// until it is delivered.
		if n := decodeNotice(it); n.ClosedDay == "" {
			out = append(out, n)
		}
		return true
	}
	if len(accounts) == 0 {
		if err := s.queryIndex(ctx, openNotices, "", nil, false, each); err != nil {
			return nil, fmt.Errorf("read notices: %w", err)
		}
	}
	accounts = slices.Compact(slices.Sorted(slices.Values(accounts)))
	for _, a := range accounts {
		if err := s.queryIndex(ctx, openNotices, "begins_with(#gsi1sk, :account)", item{":account": str(a + "#")}, false, each); err != nil {
			return nil, fmt.Errorf("read notices of %s: %w", a, err)
		}
	}
	slices.SortFunc(out, func(a, b state.Notice) int {
		return cmp.Or(cmp.Compare(a.Finding, b.Finding), cmp.Compare(a.Audience, b.Audience))
	})
	return out, nil
}

// claimCondition is state.Due (not due only when open, delivered, at the
// same stage and last told after the reminder cutoff) and the lease (no
// claim, our own, or one older than the lease cutoff), as in the SQLite
// store's WHERE clause. Days and times compare as strings. (One line:
// moto's parser takes no newlines or tabs in an expression.)
const claimCondition = `attribute_not_exists(#pk) OR (` +
	`(attribute_exists(#closed_day) OR attribute_not_exists(#last_day) OR #stage <> :stage OR #last_day <= :cutoff) AND ` +
	`(attribute_not_exists(#claim_run) OR #claim_run = :claim_run OR #claimed_at < :lease))`

// onceCondition is claimCondition for an action's notice, which is told
// once: claimable only while never delivered (state.Due).
const onceCondition = `attribute_not_exists(#pk) OR (attribute_not_exists(#last_day) AND ` +
	`(attribute_not_exists(#claim_run) OR #claim_run = :claim_run OR #claimed_at < :lease))`

// Claim implements state.Store: one conditional UpdateItem (claimCondition);
// a failed condition is a claim not taken.
func (s *Store) Claim(ctx context.Context, c state.Claim) (bool, error) {
	if err := c.Validate(); err != nil {
		return false, err
	}
	if err := s.writable(fmt.Sprintf("claim notice %v", c.Key)); err != nil {
		return false, err
	}
	u := newUpdate().
		str("finding", c.Key.Finding).str("audience", c.Key.Audience).
		str("account", c.Account).str("user", c.User).str("key_id", c.KeyID).str("rule", c.Rule).
		str("claim_run", c.Run).str("claimed_at", fmtTime(c.Now)).num("claim_stage", c.Stage).
		str("updated_at", fmtTime(c.Now)).
		str(AttrGSI1PK, openNotices).str(AttrGSI1SK, c.Account+"#"+c.Key.Finding+"#"+c.Key.Audience).
		value(":stage", num(c.Stage)).
		value(":cutoff", str(state.RemindCutoff(c.Day, c.RemindEvery))).
		value(":lease", str(fmtTime(c.LeaseCutoff())))
	// Tried again after its write took effect, the claim is the holder's
	// own: either condition allows it.
	cond := claimCondition
	if state.IsActionFinding(c.Key.Finding) {
		cond = onceCondition
		delete(u.values, ":stage")
		delete(u.values, ":cutoff")
	}
	ok, _, err := s.updateItem(ctx, noticeKey(c.Key), u.String(), cond, u.values)
	if err != nil {
		return false, fmt.Errorf("claim notice %v: %w", c.Key, err)
	}
	return ok, nil
}

// Sent's two conditional updates: a delivery that starts the stage over
// (the notice was closed, never delivered, or delivered at another stage),
// and one that continues it. SQLite chooses with CASE in one statement;
// DynamoDB has no CASE, so Sent tries the one that applies and, when the
// item says the other does, that one.
const (
	restartCondition  = `#claim_run = :claim_run AND (attribute_exists(#closed_day) OR attribute_not_exists(#last_day) OR #stage <> #claim_stage)`
	restartUpdate     = `SET #first_day = :day, #count = :one, #stage = #claim_stage, #last_day = :day, #updated_at = :now, #gsi1pk = :open REMOVE #closed_day, #claim_run, #claimed_at`
	continueCondition = `#claim_run = :claim_run AND attribute_not_exists(#closed_day) AND attribute_exists(#last_day) AND #stage = #claim_stage`
	continueUpdate    = `SET #count = #count + :one, #last_day = :day, #updated_at = :now, #gsi1pk = :open REMOVE #claim_run, #claimed_at`
)

// Sent implements state.Store.
func (s *Store) Sent(ctx context.Context, key state.NoticeKey, run, day string, now time.Time) error {
	if run == "" {
		return state.ErrClaimLost
	}
	if err := s.writable(fmt.Sprintf("record notice %v sent", key)); err != nil {
		return err
	}
	values := item{":claim_run": str(run), ":day": str(day), ":one": num(1), ":now": str(fmtTime(now)), ":open": str(openNotices)}
	// Two rounds: a Resolve between the tries can switch the case once.
	for try := range 4 {
		cond, upd := restartCondition, restartUpdate
		if try%2 == 1 {
			cond, upd = continueCondition, continueUpdate
		}
		ok, old, err := s.updateItem(ctx, noticeKey(key), upd, cond, values)
		switch {
		case err != nil:
			return fmt.Errorf("record notice %v sent: %w", key, err)
		case ok:
			return nil
		case old != nil && sentAt(old, day, now):
			return nil // recorded already, by this call's earlier attempt whose answer was lost (or an identical call)
		case old.str("claim_run") != run:
			return fmt.Errorf("record notice %v sent: %w", key, state.ErrClaimLost)
		}
	}
	return fmt.Errorf("record notice %v sent: the notice kept changing; %w", key, state.ErrClaimLost)
}

func sentAt(old item, day string, now time.Time) bool {
	n := decodeNotice(old)
	return state.SentAt(&n, day, now)
}

// Release implements state.Store.
func (s *Store) Release(ctx context.Context, key state.NoticeKey, run string) error {
	if err := s.writable(fmt.Sprintf("release notice %v", key)); err != nil {
		return err
	}
	// A failed condition: not ours to release.
	if _, _, err := s.updateItem(ctx, noticeKey(key), `REMOVE #claim_run, #claimed_at`, `#claim_run = :claim_run`,
		item{":claim_run": str(run)}); err != nil {
		return fmt.Errorf("release notice %v: %w", key, err)
	}
	return nil
}

// Resolve implements state.Store: per finding, a consistent Query of its
// partition (every audience), then a conditional UpdateItem per open
// notice, which also takes it out of the open-notices index partition.
func (s *Store) Resolve(ctx context.Context, findings []string, day string, now time.Time) (int, error) {
	if len(findings) == 0 {
		return 0, nil
	}
	if err := s.writable("resolve notices"); err != nil {
		return 0, err
	}
	const upd, cond = `SET #closed_day = :day, #updated_at = :now REMOVE #gsi1pk`, `attribute_exists(#pk) AND attribute_not_exists(#closed_day)`
	closed := 0
	for _, f := range findings {
		var open []item
		err := s.query(ctx, &ddb.QueryInput{
			KeyConditionExpression:    aws.String("#pk = :pk"),
			ExpressionAttributeNames:  names("#pk"),
			ExpressionAttributeValues: item{":pk": str(noticePrefix + f)},
			ConsistentRead:            aws.Bool(true),
		}, func(it item) bool {
			if it.str("closed_day") == "" {
				open = append(open, item{AttrPK: it[AttrPK], AttrSK: it[AttrSK]})
			}
			return true
		})
		if err != nil {
			return closed, fmt.Errorf("resolve notices of %s: %w", f, err)
		}
		for _, k := range open {
			ok, old, err := s.updateItem(ctx, k, upd, cond, item{":day": str(day), ":now": str(fmtTime(now))})
			if err != nil {
				return closed, fmt.Errorf("resolve notices of %s: %w", f, err)
			}
			// Else closed meanwhile by another run, or by an earlier
			// attempt of this call whose answer was lost (counted).
			if ok || old.str("closed_day") == day && old.str("updated_at") == fmtTime(now) {
				closed++
			}
		}
	}
	return closed, nil
}

// RecordRun implements state.Store: one PutItem (replacing).
func (s *Store) RecordRun(ctx context.Context, r state.Run) error {
	if err := s.writable("record run " + r.ID); err != nil {
		return err
	}
	started := ""
	if !r.StartedAt.IsZero() {
		started = fmtTime(r.StartedAt)
	}
	it := key(runPrefix+r.ID, runSK)
	it.put("id", r.ID)
	it.put("mode", r.Mode)
	it.putTime("as_of", r.AsOf)
	it.putTime("started_at", r.StartedAt)
	it.putTime("finished_at", r.FinishedAt)
	it.putNum("accounts", r.Accounts)
	it.putNum("findings", r.Findings)
	it.putNum("sent", r.Sent)
	it.putNum("failed", r.Failed)
	it.put("error", r.Error)
	it.putTime("forced_as_of", r.ForcedAsOf)
	it.put(AttrGSI1PK, allRuns)
	it.put(AttrGSI1SK, started+"#"+r.ID)
	if _, err := s.client.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String(s.table), Item: it}); err != nil {
		return fmt.Errorf("record run %s: %w", r.ID, err)
	}
	return nil
}

// Runs implements state.Store: a Query of the index's runs partition,
// newest first (started_at, then ID).
func (s *Store) Runs(ctx context.Context, limit int) ([]state.Run, error) {
	var out []state.Run
	err := s.queryIndex(ctx, allRuns, "", nil, true, func(it item) bool {
		out = append(out, state.Run{ID: it.str("id"), Mode: it.str("mode"), AsOf: it.time("as_of"),
			StartedAt: it.time("started_at"), FinishedAt: it.time("finished_at"), Accounts: it.num("accounts"),
			Findings: it.num("findings"), Sent: it.num("sent"), Failed: it.num("failed"), Error: it.str("error"),
			ForcedAsOf: it.time("forced_as_of")})
		return limit <= 0 || len(out) < limit
	})
	if err != nil {
		return nil, fmt.Errorf("read runs: %w", err)
	}
	return out, nil
}

// Close implements state.Store; the client holds nothing to release.
func (s *Store) Close() error { return nil }
