package dynamodb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/keywarden/keywarden/internal/state"
)

// seqWidth pads the action sequence number in the index's sort key, so
// that it sorts as a number.
const seqWidth = 19

func actionKey(id string) item   { return key(actionPrefix+id, actionSK) }
func lockKey(target string) item { return key(lockPrefix+target, lockSK) }

// nextSeq takes the next action sequence number: the insertion order that
// breaks ties between actions recorded at the same time, as SQLite's seq
// column does. One atomic counter (UpdateItem ADD).
func (s *Store) nextSeq(ctx context.Context) (int, error) {
	const upd = `ADD #n :one`
	out, err := s.client.UpdateItem(ctx, &ddb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key(counterPK, counterSK),
		UpdateExpression:          aws.String(upd),
		ExpressionAttributeNames:  names(upd),
		ExpressionAttributeValues: item{":one": num(1)},
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, err
	}
	return item(out.Attributes).num("n"), nil
}

func actionItem(a *state.Action, seq int) item {
	it := actionKey(a.ID)
	for _, f := range []struct{ name, v string }{
		{"id", a.ID}, {"run", a.Run}, {"account", a.Account}, {"user", a.User}, {"credential", a.Credential},
		{"key_id", a.KeyID}, {"kind", a.Kind}, {"rule", a.Rule}, {"finding_id", a.FindingID},
		{"status", string(a.Status)}, {"reason", a.Reason}, {"before", a.Before}, {"after", a.After},
		{"undo_of", a.UndoOf}, {"target", a.Target()},
		{"new_key_id", a.NewKeyID}, {"secret_target", a.SecretTarget}, {"rotation_of", a.RotationOf},
	} {
		it.put(f.name, f.v)
	}
	it.putNum("stage", a.Stage)
	it.putTime("at", a.At)
	it.putTime("finished_at", a.FinishedAt)
	it.putTime("forced_as_of", a.ForcedAsOf)
	if len(a.Audiences) > 0 {
		l := make([]types.AttributeValue, len(a.Audiences))
		for i, aud := range a.Audiences {
			l[i] = str(aud)
		}
		it["audiences"] = &types.AttributeValueMemberL{Value: l}
	}
	it["seq"] = num(seq)
	it.put(AttrGSI1PK, allActions)
	it.put(AttrGSI1SK, fmtTime(a.At)+"#"+fmt.Sprintf("%0*d", seqWidth, seq))
	return it
}

// decodeAction returns the action and its sequence number.
func decodeAction(it item) (state.Action, int) {
	return state.Action{
		ID: it.str("id"), Run: it.str("run"), Account: it.str("account"), User: it.str("user"),
		Credential: it.str("credential"), KeyID: it.str("key_id"), Kind: it.str("kind"), Rule: it.str("rule"),
		Stage: it.num("stage"), FindingID: it.str("finding_id"), Status: state.ActionStatus(it.str("status")),
		Reason: it.str("reason"), Before: it.str("before"), After: it.str("after"), UndoOf: it.str("undo_of"),
		At: it.time("at"), FinishedAt: it.time("finished_at"), ForcedAsOf: it.time("forced_as_of"),
		Audiences: it.strs("audiences"),
		NewKeyID:  it.str("new_key_id"), SecretTarget: it.str("secret_target"), RotationOf: it.str("rotation_of"),
	}, it.num("seq")
}

// owedPuts are the puts of the owed notices of a finished as status: new
// items, never delivered, each put only where no notice exists (one a run
// has claimed, told or closed is left as it is, as SQLite's ON CONFLICT DO
// NOTHING leaves it): see transactOwing.
func (s *Store) owedPuts(a *state.Action, status state.ActionStatus, now time.Time) []types.TransactWriteItem {
	var out []types.TransactWriteItem
	for _, n := range state.OwedNotices(a, status, now) {
		it := noticeKey(n.NoticeKey)
		it.put("finding", n.Finding)
		it.put("audience", n.Audience)
		it.put("account", n.Account)
		it.put("user", n.User)
		it.put("key_id", n.KeyID)
		it.put("rule", n.Rule)
		it.putNum("stage", n.Stage)
		it.putTime("updated_at", n.UpdatedAt)
		it.put(AttrGSI1PK, openNotices)
		it.put(AttrGSI1SK, n.Account+"#"+n.Finding+"#"+n.Audience)
		const absent = `attribute_not_exists(#pk)`
		out = append(out, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: it,
			ConditionExpression: aws.String(absent), ExpressionAttributeNames: names(absent)}})
	}
	return out
}

// transactOwing runs items and the owed notices' puts in one transaction.
// A put whose notice exists fails its condition and cancels the
// transaction: it is tried again without the puts whose notices exist,
// until only items' own conditions can fail it. The error is the last
// try's; its cancellation reasons index items as given.
func (s *Store) transactOwing(ctx context.Context, items, owed []types.TransactWriteItem) error {
	for {
		err := s.transact(ctx, append(slices.Clone(items), owed...))
		reasons := cancelled(err)
		var keep []types.TransactWriteItem
		for i, o := range owed {
			if !conditionFailed(reasons, len(items)+i) {
				keep = append(keep, o)
			}
		}
		if err == nil || len(keep) == len(owed) {
			return err
		}
		for i := range items {
			if conditionFailed(reasons, i) {
				return err // the items' own condition: the caller's to read
			}
		}
		owed = keep
	}
}

// transact runs one TransactWriteItems. DynamoDB cancels a transaction
// that meets another one on the same item (TransactionConflict); it is
// tried again a few times, and then the conflict is returned. The SDK
// gives each call its own ClientRequestToken, so its own retries of a call
// are idempotent.
// A try after one that took effect and answered an error fails its
// conditions on its own write: callers tell that from another writer's.
func (s *Store) transact(ctx context.Context, items []types.TransactWriteItem) error {
	for try := 0; ; try++ {
		_, err := s.client.TransactWriteItems(ctx, &ddb.TransactWriteItemsInput{TransactItems: items})
		var tc *types.TransactionCanceledException
		if !errors.As(err, &tc) || !slices.ContainsFunc(tc.CancellationReasons, isReason("TransactionConflict")) || try == 4 {
			return err
		}
		wait := time.Duration(10<<try)*time.Millisecond + rand.N(10*time.Millisecond)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

func isReason(code string) func(types.CancellationReason) bool {
	return func(r types.CancellationReason) bool { return aws.ToString(r.Code) == code }
}

// cancelled returns the reasons of a cancelled transaction (nil for any
// other error).
func cancelled(err error) []types.CancellationReason {
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) {
		return tc.CancellationReasons
	}
	return nil
}

func conditionFailed(reasons []types.CancellationReason, i int) bool {
	return i < len(reasons) && isReason("ConditionalCheckFailed")(reasons[i])
}

// RecordAction implements state.Store: one transaction puts the action
// (if its ID is new) and, for a planned action, the lock item of its
// Target (if no other action holds it), for a finished one its owed
// notices. The lock is the in-flight lock that SQLite keeps as a partial
// unique index.
func (s *Store) RecordAction(ctx context.Context, a state.Action) error {
	if err := a.Validate(); err != nil {
		return err
	}
	if err := s.writable("record action " + a.ID); err != nil {
		return err
	}
	seq, err := s.nextSeq(ctx)
	if err != nil {
		return fmt.Errorf("record action %s: number it: %w", a.ID, err)
	}
	const absent = `attribute_not_exists(#pk)`
	items := []types.TransactWriteItem{{Put: &types.Put{
		TableName: aws.String(s.table), Item: actionItem(&a, seq),
		ConditionExpression: aws.String(absent), ExpressionAttributeNames: names(absent),
	}}}
	target := a.Target()
	if a.Status == state.ActionPlanned {
		lock := lockKey(target)
		lock.put("action_id", a.ID)
		lock.put("run", a.Run)
		lock.put("target", target)
		lock.putTime("at", a.At)
		lock.put(AttrGSI1PK, heldLocks)
		lock.put(AttrGSI1SK, target)
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(s.table), Item: lock,
			ConditionExpression: aws.String(absent), ExpressionAttributeNames: names(absent),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}})
	}
	err = s.transactOwing(ctx, items, s.owedPuts(&a, a.Status, a.At))
	reasons := cancelled(err)
	switch {
	case err == nil:
		return nil
	case conditionFailed(reasons, 0) && s.recorded(ctx, &a):
		// Recorded already (its lock with it, in the same transaction): an
		// earlier attempt whose answer was lost, or an identical call.
		return nil
	case conditionFailed(reasons, 0):
		return fmt.Errorf("record action %s: an action with this ID exists", a.ID)
	case conditionFailed(reasons, 1):
		holder := item(reasons[1].Item)
		if holder == nil { // not returned: read it
			holder, _ = s.get(ctx, lockKey(target))
		}
		return fmt.Errorf("record action %s on %s: %w (%s of run %s)", a.ID, target, state.ErrActionInFlight,
			holder.str("action_id"), holder.str("run"))
	}
	return fmt.Errorf("record action %s: %w", a.ID, err)
}

// recorded reports whether a is recorded already (state.SameRecord).
func (s *Store) recorded(ctx context.Context, a *state.Action) bool {
	it, err := s.get(ctx, actionKey(a.ID))
	if err != nil || it == nil {
		return false
	}
	got, _ := decodeAction(it)
	return state.SameRecord(&got, a)
}

// get reads one item, strongly consistent; nil when there is none.
func (s *Store) get(ctx context.Context, k item) (item, error) {
	out, err := s.client.GetItem(ctx, &ddb.GetItemInput{TableName: aws.String(s.table), Key: k, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// FinishAction implements state.Store: one transaction moves the action
// from planned to its outcome (the condition), deletes its lock and puts
// the outcome's owed notices (their audiences are on the action item).
func (s *Store) FinishAction(ctx context.Context, id string, o state.Outcome) error {
	if err := s.writable("finish action " + id); err != nil {
		return err
	}
	it, err := s.get(ctx, actionKey(id))
	if err != nil {
		return fmt.Errorf("finish action %s: %w", id, err)
	}
	if it != nil && it.str("status") != string(state.ActionPlanned) {
		if got, _ := decodeAction(it); state.FinishedWith(&got, o) {
			return nil // finished already with o: a repeat
		}
	}
	if it == nil || it.str("status") != string(state.ActionPlanned) {
		return fmt.Errorf("finish action %s: %w", id, state.ErrActionNotPlanned)
	}
	target := it.str("target") // never changes: safe to read before the transaction
	u := newUpdate().str("status", string(o.Status)).str("reason", o.Reason).str("before", o.Before).str("after", o.After)
	if o.Kind != "" {
		u.str("kind", o.Kind)
	}
	if o.SecretTarget != "" {
		u.str("secret_target", o.SecretTarget)
	}
	if !o.At.IsZero() {
		u.str("finished_at", fmtTime(o.At))
	} else {
		u.del("finished_at")
	}
	u.value(":planned", str(string(state.ActionPlanned)))
	upd, cond := u.String(), `#status = :planned`
	const lockCond = `attribute_not_exists(#pk) OR #action_id = :id`
	rec, _ := decodeAction(it)
	err = s.transactOwing(ctx, []types.TransactWriteItem{
		{Update: &types.Update{
			TableName: aws.String(s.table), Key: actionKey(id),
			UpdateExpression: aws.String(upd), ConditionExpression: aws.String(cond),
			ExpressionAttributeNames: names(upd, cond), ExpressionAttributeValues: u.values,
		}},
		{Delete: &types.Delete{
			TableName: aws.String(s.table), Key: lockKey(target),
			ConditionExpression: aws.String(lockCond), ExpressionAttributeNames: names(lockCond),
			ExpressionAttributeValues: item{":id": str(id)},
		}},
	}, s.owedPuts(&rec, o.Status, o.At))
	reasons := cancelled(err)
	switch {
	case err == nil:
		return nil
	case conditionFailed(reasons, 0) && s.finished(ctx, id, o):
		return nil // finished already with o: an earlier attempt whose answer was lost (or an identical call)
	case conditionFailed(reasons, 0):
		return fmt.Errorf("finish action %s: %w", id, state.ErrActionNotPlanned)
	case conditionFailed(reasons, 1):
		return fmt.Errorf("finish action %s: the lock on %s is held by another action; nothing was changed", id, target)
	}
	return fmt.Errorf("finish action %s: %w", id, err)
}

// ProgressAction implements state.Store: one conditional update of the
// planned action (a repeat with the same key finds it set and succeeds).
func (s *Store) ProgressAction(ctx context.Context, id, newKeyID string) error {
	if err := s.writable("progress action " + id); err != nil {
		return err
	}
	u := newUpdate().str("new_key_id", newKeyID)
	u.value(":planned", str(string(state.ActionPlanned)))
	upd := u.String()
	const cond = `#status = :planned AND (attribute_not_exists(#new_key_id) OR #new_key_id = :new_key_id)`
	_, err := s.client.UpdateItem(ctx, &ddb.UpdateItemInput{
		TableName: aws.String(s.table), Key: actionKey(id),
		UpdateExpression: aws.String(upd), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: names(upd, cond), ExpressionAttributeValues: u.values,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &ccf):
		return fmt.Errorf("progress action %s: %w", id, err)
	}
	it, gerr := s.get(ctx, actionKey(id))
	if gerr != nil {
		return fmt.Errorf("progress action %s: %w", id, gerr)
	}
	if it != nil && it.str("status") == string(state.ActionPlanned) {
		return fmt.Errorf("progress action %s: %w (%s)", id, state.ErrNewKeyRecorded, it.str("new_key_id"))
	}
	return fmt.Errorf("progress action %s: %w", id, state.ErrActionNotPlanned)
}

// finished reports whether action id was finished with o already
// (state.FinishedWith).
func (s *Store) finished(ctx context.Context, id string, o state.Outcome) bool {
	it, err := s.get(ctx, actionKey(id))
	if err != nil || it == nil {
		return false
	}
	got, _ := decodeAction(it)
	return got.Status != state.ActionPlanned && state.FinishedWith(&got, o)
}

// Actions implements state.Store. By ID: a consistent GetItem each. Planned
// actions: the held locks (a Query of the index's locks partition) name
// them. Otherwise: a Query of the index's actions partition, newest first
// (at, then the sequence number), from f.Since, filtered with f.Match.
func (s *Store) Actions(ctx context.Context, f state.ActionFilter) ([]state.Action, error) {
	type rec struct {
		a   state.Action
		seq int
	}
	var recs []rec
	byID := func(ids []string) error {
		for _, id := range slices.Compact(slices.Sorted(slices.Values(ids))) {
			it, err := s.get(ctx, actionKey(id))
			if err != nil {
				return err
			}
			if it != nil {
				a, seq := decodeAction(it)
				if f.Match(&a) {
					recs = append(recs, rec{a, seq})
				}
			}
		}
		return nil
	}
	var err error
	switch {
	case len(f.IDs) > 0:
		err = byID(f.IDs)
	case f.Status == state.ActionPlanned:
		var ids []string
		err = s.queryIndex(ctx, heldLocks, "", nil, false, func(it item) bool {
			ids = append(ids, it.str("action_id"))
			return true
		})
		if err == nil {
			err = byID(ids)
		}
	default:
		skCond, values := "", item(nil)
		if !f.Since.IsZero() {
			skCond, values = "#gsi1sk >= :since", item{":since": str(fmtTime(f.Since))}
		}
		err = s.queryIndex(ctx, allActions, skCond, values, true, func(it item) bool {
			if a, seq := decodeAction(it); f.Match(&a) {
				recs = append(recs, rec{a, seq})
			}
			return f.Limit <= 0 || len(recs) < f.Limit
		})
	}
	if err != nil {
		return nil, fmt.Errorf("read actions: %w", err)
	}
	slices.SortFunc(recs, func(x, y rec) int { return cmp.Or(y.a.At.Compare(x.a.At), cmp.Compare(y.seq, x.seq)) })
	if f.Limit > 0 && len(recs) > f.Limit {
		recs = recs[:f.Limit]
	}
	out := make([]state.Action, len(recs))
	for i, r := range recs {
		out[i] = r.a
	}
	return out, nil
}

func inactiveKey(k state.KeyRef) item { return key(inactivePrefix+k.Account+"#"+k.KeyID, inactiveSK) }

// InactiveSince implements state.Store: a consistent GetItem.
func (s *Store) InactiveSince(ctx context.Context, k state.KeyRef) (string, error) {
	it, err := s.get(ctx, inactiveKey(k))
	if err != nil {
		return "", fmt.Errorf("read when %s became inactive: %w", k.KeyID, err)
	}
	return it.str("since_day"), nil
}

// RecordInactive implements state.Store: a PutItem, conditional on there
// being no record unless replace.
func (s *Store) RecordInactive(ctx context.Context, k state.KeyRef, day string, replace bool) error {
	if err := s.writable("record when " + k.KeyID + " became inactive"); err != nil {
		return err
	}
	it := inactiveKey(k)
	it.put("account", k.Account)
	it.put("key_id", k.KeyID)
	it.put("user", k.User)
	it.put("since_day", day)
	in := &ddb.PutItemInput{TableName: aws.String(s.table), Item: it}
	if !replace {
		const absent = `attribute_not_exists(#pk)`
		in.ConditionExpression, in.ExpressionAttributeNames = aws.String(absent), names(absent)
	}
	_, err := s.client.PutItem(ctx, in)
	if failed, _ := isConditionFailed(err); failed {
		return nil // known already: the first day stays
	}
	if err != nil {
		return fmt.Errorf("record when %s became inactive: %w", k.KeyID, err)
	}
	return nil
}

// ForgetInactive implements state.Store: a DeleteItem.
func (s *Store) ForgetInactive(ctx context.Context, k state.KeyRef) error {
	if err := s.writable("forget when " + k.KeyID + " became inactive"); err != nil {
		return err
	}
	if _, err := s.client.DeleteItem(ctx, &ddb.DeleteItemInput{TableName: aws.String(s.table), Key: inactiveKey(k)}); err != nil {
		return fmt.Errorf("forget when %s became inactive: %w", k.KeyID, err)
	}
	return nil
}
