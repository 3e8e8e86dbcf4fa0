// Package dynamodb is the state.Store kept in one DynamoDB table
// (state.url: dynamodb://TABLE), for keywarden on AWS Lambda, where there
// is no file to keep. It passes the same conformance suite
// (internal/state/statetest) as the SQLite store.
//
// # Table
//
// keywarden never creates the table: the Terraform module and the
// CloudFormation template do (with point-in-time recovery), and Open checks
// that it exists and has this schema (CreateTableInput is the reference;
// CreateTable makes one for tests or by hand):
//
//	key schema       pk (S, HASH), sk (S, RANGE)
//	index gsi1       gsi1pk (S, HASH), gsi1sk (S, RANGE), projection ALL
//	billing          PAY_PER_REQUEST
//
// # Items
//
// One table holds every kind of item (single-table design):
//
//	item          pk                          sk         gsi1pk        gsi1sk
//	notice        NOTICE#<finding>            TO#<aud.>  OPEN_NOTICES  <account>#<finding>#<audience>
//	run           RUN#<id>                    RUN        RUNS          <started_at>#<id>
//	action        ACTION#<id>                 ACTION     ACTIONS       <at>#<seq, 19 digits>
//	lock          LOCK#<Action.Target()>      LOCK       LOCKS         <target>
//	inactive key  INACTIVE#<account>#<key ID> INACTIVE   -             -
//	action seq    COUNTER#actions             COUNTER    -             -
//
// The other attributes are the fields of state.Notice, state.Run,
// state.Action and state.KeyRef in snake_case (finding, audience, account,
// user, key_id, rule, stage, first_day, last_day, count, claim_run,
// claimed_at, claim_stage, closed_day, updated_at; id, run, kind, status,
// reason, before, after, undo_of, target, at, finished_at, seq; since_day;
// a lock's action_id and run; forced_as_of, on a run and on an action;
// audiences, a list of strings, on an action; new_key_id, secret_target and
// rotation_of on a rotation's records). Days are YYYY-MM-DD and times UTC with a
// fixed width (2006-01-02T15:04:05.000000000Z), so both compare as strings
// in conditions and sort keys. Empty values are never written: an absent
// attribute is "" or 0, so "no claim" is no claim_run, "never delivered" no
// last_day, "open" no closed_day. claim_stage is left behind after a
// delivery or a release and means something only while claim_run is set.
// Attributes added later are read the same way: forced_as_of (added with
// SQLite's schema version 4) is absent on every run and action item that
// did not act at a forced --as-of — among them all items written before
// it existed — so old items need no migration; so is audiences (SQLite's
// schema version 5) on actions that owe no one a notice.
//
// Finishing an action (FinishAction, or RecordAction of a finished one)
// puts its owed notices (state.OwedNotices: never delivered, in the
// OPEN_NOTICES partition) in the same TransactWriteItems as the outcome.
// An action's notice is told once: Claim's condition for it is that it
// was never delivered (no last_day), whatever its stage or day.
//
// A notice is in the index's OPEN_NOTICES partition from its first claim
// until Resolve closes it (which removes gsi1pk: a sparse index); a closed
// notice claimed again is there too, but Notices skips it until it is
// delivered. An action's seq comes from one atomic counter (UpdateItem
// ADD) and breaks ties between actions recorded at the same time, as
// SQLite's seq column does. A lock item exists exactly while its action is
// planned.
//
// # Access patterns
//
//	Notices(accounts)     Query gsi1 OPEN_NOTICES, begins_with(gsi1sk, "<account>#") per account
//	                      (the whole partition for all accounts); sorted by (finding, audience)
//	Claim                 UpdateItem on the notice, conditional (below)
//	Sent                  UpdateItem on the notice, conditional on the claim (at most a few tries)
//	Release               UpdateItem on the notice, conditional on the claim
//	Resolve               Query pk NOTICE#<finding> (consistent), UpdateItem per open notice, conditional on it being open
//	RecordRun / Runs      PutItem / Query gsi1 RUNS, newest first
//	RecordAction          UpdateItem ADD on the counter, then TransactWriteItems: Put the action
//	                      (attribute_not_exists) and, when planned, Put its lock (attribute_not_exists)
//	FinishAction          GetItem (consistent) for the target, then TransactWriteItems: Update the
//	                      action (status = planned) and Delete its lock (held by this action, or none)
//	ProgressAction        UpdateItem on the action, conditional on it being planned without
//	                      another new_key_id (on failure, GetItem to tell which)
//	Actions(IDs)          GetItem per ID (consistent)
//	Actions(planned)      Query gsi1 LOCKS, then GetItem per held lock's action (consistent)
//	Actions(other)        Query gsi1 ACTIONS, newest first, gsi1sk >= Since; filtered with ActionFilter.Match
//	InactiveSince         GetItem (consistent)
//	RecordInactive        PutItem (attribute_not_exists unless replacing)
//	ForgetInactive        DeleteItem
//	Open                  DescribeTable
//
// Every Query goes through the SDK paginator (PageSize sets its Limit) and
// there is no Scan. Reads of the index are eventually consistent (DynamoDB
// offers nothing else on a GSI): a list can lag a write by a moment. That
// is safe because no decision rests on a list: the conditional writes below
// decide. The index partitions are one per kind of list, which bounds them
// at DynamoDB's per-partition write rate (about 1,000 writes a second),
// far above what a run's notifications and actions need.
//
// # Atomicity
//
// Every rule the SQLite store enforces in one statement is one conditional
// write or one transaction here, so two overlapping runs (two Lambda
// invocations, a CLI run beside the schedule) never both claim a notice or
// both act on a credential:
//
//   - Claim: ConditionExpression = the cadence of state.Due (new, closed,
//     never delivered, another stage, or last_day <= state.RemindCutoff)
//     AND the lease (no claim_run, our own, or claimed_at before the lease
//     cutoff). A failed condition (ConditionalCheckFailedException) is
//     "not claimed", (false, nil).
//   - Sent: SQLite picks with CASE whether a delivery starts the stage over
//     (first_day = day, count = 1) or continues it (count + 1). DynamoDB has
//     no CASE, so Sent writes the case it expects with a condition that
//     says it applies and that the run still holds the claim; when the
//     returned item (ReturnValuesOnConditionCheckFailure ALL_OLD) shows the
//     claim held but the other case, it writes that one. A claim held by
//     another run is state.ErrClaimLost.
//   - RecordAction (planned): the action and the lock item of its
//     Target() are put in one TransactWriteItems, each with
//     attribute_not_exists(pk). A held lock cancels the transaction; the
//     error wraps state.ErrActionInFlight and names the holder's action and
//     run (from the cancellation reason's item). A conflict with another
//     transaction in flight (TransactionConflict) is tried again.
//   - FinishAction: the status change (condition status = planned, else
//     state.ErrActionNotPlanned) and the lock's deletion are one
//     TransactWriteItems.
//
// The tests run the suite against moto, which does not make a single
// request atomic under concurrency; internal/testenv serialises its
// DynamoDB requests so that the races in the suite test these conditions
// and not moto's threads. moto's expression parser also takes no newlines
// in an expression, so every expression here is one line.
//
// # Permissions
//
// Operations lists the DynamoDB operations the store calls, on the table
// (arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE) and, Query only, its index
// (…/index/*); iampolicy.DynamoDBActions are the IAM actions they need (a
// transaction is authorized by its items' PutItem and UpdateItem).
// CreateTable (not in it) is only for tests and operators.
//
// A store opened with ReadOnly (dry runs) refuses every write with
// ErrReadOnly and calls nothing but reads.
package dynamodb
