package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/state"
	dynamostate "github.com/keywarden/keywarden/internal/state/dynamodb"
	"github.com/keywarden/keywarden/internal/state/memstore"
	"github.com/keywarden/keywarden/internal/state/sqlite"
)

const reportHeader = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n"

// reportRow is a user with one active access key created on created.
func reportRow(user string, created time.Time) string {
	c := created.UTC().Format(time.RFC3339)
	return fmt.Sprintf("%s,arn:aws:iam::123456789012:user/%s,2025-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,%s,%s,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n",
		user, user, c, c)
}

func writeReport(t *testing.T, rows ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "report.csv")
	if err := os.WriteFile(p, []byte(reportHeader+strings.Join(rows, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// recorder is a channel that records what it sends and can fail some.
type recorder struct {
	name string
	mu   sync.Mutex
	sent []*notify.Message
	fail func(*notify.Message) error
}

func (r *recorder) Name() string { return r.name }
func (r *recorder) Send(_ context.Context, m *notify.Message) error {
	if r.fail != nil {
		if err := r.fail(m); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, m)
	return nil
}

func (r *recorder) take() []*notify.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.sent
	r.sent = nil
	return out
}

// cadenceConfig: only access_key_age, the default stages (70 notify, 80
// disable, 90 delete) and remind_every 3.
func cadenceConfig() *config.Config {
	cfg := config.Default()
	off := false
	cfg.Rules.AccessKeyUnused.Enabled = &off
	cfg.Rules.PasswordExpiry.Enabled = &off
	cfg.Rules.PasswordUnused.Enabled = &off
	cfg.Rules.MFAMissing.Enabled = &off
	cfg.Rules.RootAccessKey.Enabled = &off
	// Only the access keys' ages: the users' other rules would add
	// their own notices to the cadence.
	cfg.Rules.DormantUser.Enabled = &off
	cfg.Rules.ConsoleAndKeys.Enabled = &off
	cfg.Rules.TwoActiveKeys.Enabled = &off
	cfg.Rules.AccessKeyAtSetup.Enabled = &off
	cfg.Rules.PasswordPolicy.Enabled = &off
	return cfg
}

func day(s string) time.Time {
	t, err := time.Parse(config.DateLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestCadenceOverAMonth runs keywarden daily through November 2026 (the
// real pipeline: offline scan, plan, delivery, SQLite state) and checks
// on which days each owner is told what:
//   - alice's key reaches 70 days on 11-03 (told at once), is reminded
//     every 3 days, reaches 80 on 11-13 and 90 on 11-23 (told at once each
//     time); the runs of 11-15 to 11-17 are missed and 11-18 catches up;
//   - bob's key is at 75 days on 11-01, reaches 80 on 11-06, and is rotated
//     on 11-10: his record is closed and he hears nothing more;
//   - carol's key reaches 70 on 11-20 and 80 on 11-30; 11-20 runs twice,
//     the second run sends nothing.
//
// The digest (outbox) follows the same cadence, one notice per finding.
func TestCadenceOverAMonth(t *testing.T) {
	store, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	users := &recorder{name: "outbox"}
	chs := &Channels{User: users, Digest: map[string]notify.Channel{plan.TargetOutbox: users}}

	aliceKey := day("2026-11-01").AddDate(0, 0, -68).Add(9 * time.Hour)
	bobKey := day("2026-11-01").AddDate(0, 0, -75).Add(9 * time.Hour)
	bobNewKey := day("2026-11-10").Add(8 * time.Hour)
	carolKey := day("2026-11-20").AddDate(0, 0, -70).Add(9 * time.Hour)
	missed := map[string]bool{"2026-11-15": true, "2026-11-16": true, "2026-11-17": true}

	got := map[string][]string{}
	var resolved []string
	for d := day("2026-11-01"); d.Month() == time.November; d = d.AddDate(0, 0, 1) {
		ds := d.Format(config.DateLayout)
		if missed[ds] {
			continue
		}
		bob := bobKey
		if !d.Before(day("2026-11-10")) {
			bob = bobNewKey
		}
		report := writeReport(t, reportRow("alice@example.com", aliceKey), reportRow("bob@example.com", bob), reportRow("carol@example.com", carolKey))
		runs := 1
		if ds == "2026-11-20" {
			runs = 2
		}
		for i := range runs {
			asOf := d.Add(10*time.Hour + time.Duration(i)*time.Hour)
			res, err := Run(context.Background(), RunOptions{
				Scan:     ScanOptions{Config: cadenceConfig(), AsOf: asOf, Now: asOf, CredentialReport: report},
				Store:    store,
				Channels: chs,
			})
			if err != nil || res.Err != nil {
				t.Fatalf("%s run %d: %v / %v", ds, i+1, err, res.Err)
			}
			if res.Resolved > 0 {
				resolved = append(resolved, fmt.Sprintf("%s:%d", ds, res.Resolved))
			}
			for _, m := range users.take() {
				if m.Kind == notify.KindDigest {
					got[ds] = append(got[ds], fmt.Sprintf("digest(%d)", len(m.Digest.Notices)))
					continue
				}
				for _, it := range m.User.Items {
					got[ds] = append(got[ds], fmt.Sprintf("%s %d %s", strings.TrimSuffix(m.User.To, "@example.com"), it.StageAt, it.Status))
				}
			}
		}
	}
	want := map[string][]string{
		"2026-11-01": {"bob 70 new", "digest(1)"},
		"2026-11-03": {"alice 70 new", "digest(1)"},
		"2026-11-04": {"bob 70 reminder", "digest(1)"},
		"2026-11-06": {"alice 70 reminder", "bob 80 stage", "digest(2)"},
		"2026-11-09": {"alice 70 reminder", "bob 80 reminder", "digest(2)"},
		"2026-11-12": {"alice 70 reminder", "digest(1)"},
		"2026-11-13": {"alice 80 stage", "digest(1)"},
		"2026-11-18": {"alice 80 reminder", "digest(1)"},
		"2026-11-20": {"carol 70 new", "digest(1)"},
		"2026-11-21": {"alice 80 reminder", "digest(1)"},
		"2026-11-23": {"alice 90 stage", "carol 70 reminder", "digest(2)"},
		"2026-11-26": {"alice 90 reminder", "carol 70 reminder", "digest(2)"},
		"2026-11-29": {"alice 90 reminder", "carol 70 reminder", "digest(2)"},
		"2026-11-30": {"carol 80 stage", "digest(1)"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("what was told on which day (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"2026-11-10:2"}, resolved); diff != "" {
		t.Errorf("resolutions (-want +got):\n%s", diff)
	}
	runs, err := store.Runs(context.Background(), 0)
	if err != nil || len(runs) != 28 { // 30 days - 3 missed + 1 second run
		t.Errorf("recorded runs = %d (%v); want 28", len(runs), err)
	}
}

// TestFailingChannelDoesNotStopOthers: one owner's mail and the Slack
// digest fail; every other message is delivered and recorded, the failures
// are joined in Result.Err, and only they are retried by the next run.
func TestFailingChannelDoesNotStopOthers(t *testing.T) {
	store := memstore.New()
	mail := &recorder{name: "ses", fail: func(m *notify.Message) error {
		if m.Kind == notify.KindUser && m.To[0] == "bob@example.com" {
			return errors.New("ses: send user to bob@example.com: MessageRejected: Email address is not verified")
		}
		return nil
	}}
	slackErr := errors.New("slack: post digest: webhook answered 500 Internal Server Error")
	slackFails := true
	slack := &recorder{name: "slack", fail: func(*notify.Message) error {
		if slackFails {
			return slackErr
		}
		return nil
	}}
	sns := &recorder{name: "sns"}
	cfg := cadenceConfig()
	cfg.Notify.Admins.SNSTopicARN = "arn:aws:sns:us-east-1:123456789012:t"
	cfg.Notify.Admins.SlackWebhookEnv = "SLACK"
	chs := &Channels{User: mail, Digest: map[string]notify.Channel{plan.TargetSNS: sns, plan.TargetSlack: slack}}
	asOf := day("2026-11-23").Add(9 * time.Hour)
	report := writeReport(t, reportRow("alice@example.com", asOf.AddDate(0, 0, -75)), reportRow("bob@example.com", asOf.AddDate(0, 0, -75)),
		reportRow("carol@example.com", asOf.AddDate(0, 0, -85)))
	opts := RunOptions{Scan: ScanOptions{Config: cfg, AsOf: asOf, Now: asOf, CredentialReport: report}, Store: store, Channels: chs}

	res, err := Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	status := func(res *Result) []string {
		var out []string
		for _, d := range res.Deliveries {
			who := d.Channel
			if d.Kind == notify.KindUser {
				who = d.To[0]
			}
			out = append(out, who+"="+d.Status)
		}
		slices.Sort(out)
		return out
	}
	want := []string{"alice@example.com=sent", "bob@example.com=failed", "carol@example.com=sent", "slack=failed", "sns=sent"}
	if diff := cmp.Diff(want, status(res)); diff != "" {
		t.Errorf("first run deliveries (-want +got):\n%s", diff)
	}
	// Each delivery references what it delivered.
	for _, d := range res.Deliveries {
		switch {
		case d.Kind == notify.KindUser && (d.Message == nil || d.Digest != nil || d.Message.To != d.To[0]),
			d.Kind == notify.KindDigest && (d.Digest == nil || d.Message != nil || d.Digest.Target != d.Target):
			t.Errorf("%s delivery to %v references message %v, digest %v; want its own", d.Kind, d.To, d.Message, d.Digest)
		}
	}
	if res.Sent != 3 || res.Failed != 2 || !errors.Is(res.Err, slackErr) || !strings.Contains(res.Err.Error(), "MessageRejected") {
		t.Errorf("first run: %d sent, %d failed, err %v; want 3, 2 and both errors joined", res.Sent, res.Failed, res.Err)
	}
	// The failed notices were released, not recorded.
	ns, _ := store.Notices(context.Background(), nil)
	for _, n := range ns {
		failed := n.Audience == "bob@example.com" || n.Audience == "digest:slack"
		if failed != (n.LastDay == "") || n.ClaimRun != "" {
			t.Errorf("notice %v: last told %q, claim %q; want recorded only when delivered, no claim left", n.NoticeKey, n.LastDay, n.ClaimRun)
		}
	}

	slackFails = false
	mail.fail = nil
	res, err = Run(context.Background(), opts)
	if err != nil || res.Err != nil {
		t.Fatal(err, res.Err)
	}
	if diff := cmp.Diff([]string{"bob@example.com=sent", "slack=sent"}, status(res)); diff != "" {
		t.Errorf("retry run deliveries (-want +got):\n%s", diff)
	}
	res, _ = Run(context.Background(), opts)
	if len(res.Deliveries) != 0 {
		t.Errorf("third run deliveries = %v; want none", status(res))
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	store := memstore.New()
	mail := &recorder{name: "outbox"}
	asOf := day("2026-11-23").Add(9 * time.Hour)
	report := writeReport(t, reportRow("alice@example.com", asOf.AddDate(0, 0, -85)))
	res, err := Run(context.Background(), RunOptions{Scan: ScanOptions{Config: cadenceConfig(), AsOf: asOf, Now: asOf, CredentialReport: report},
		Store: store, Channels: &Channels{User: mail, Digest: map[string]notify.Channel{plan.TargetOutbox: mail}}, DryRun: true})
	if err != nil || res.Err != nil {
		t.Fatal(err, res.Err)
	}
	if len(mail.take()) != 0 {
		t.Error("a dry run sent messages")
	}
	if ns, _ := store.Notices(context.Background(), nil); len(ns) != 0 {
		t.Errorf("a dry run recorded notices: %v", ns)
	}
	if rs, _ := store.Runs(context.Background(), 0); len(rs) != 0 {
		t.Errorf("a dry run recorded a run: %v", rs)
	}
	if res.Mode != plan.ModeDryRun || len(res.Deliveries) != 2 || res.Deliveries[0].Status != DeliveryPlanned ||
		res.Deliveries[0].Subject != "[keywarden] 1 AWS credential needs your attention: action needed now" {
		t.Errorf("dry run: mode %s, deliveries %+v; want 2 planned with subjects", res.Mode, res.Deliveries)
	}
	if len(res.Plan.Actions) != 1 || res.Plan.Actions[0].Verb() != "would disable" {
		t.Errorf("dry run actions = %+v; want would disable", res.Plan.Actions)
	}
}

// TestApplyOfflineListsOnly: an offline credential report has no account
// to act in: --apply (or enforce.mode: apply) says so, lists the actions
// and keeps the wording truthful.
func TestApplyOfflineListsOnly(t *testing.T) {
	cfg := cadenceConfig()
	cfg.Enforce.Mode = config.ModeApply
	cfg.Enforce.AllowedAccounts = []string{"123456789012"}
	mail := &recorder{name: "outbox"}
	asOf := day("2026-11-23").Add(9 * time.Hour)
	report := writeReport(t, reportRow("alice@example.com", asOf.AddDate(0, 0, -85)))
	res, err := Run(context.Background(), RunOptions{Scan: ScanOptions{Config: cfg, AsOf: asOf, Now: asOf, CredentialReport: report},
		Store: memstore.New(), Channels: &Channels{User: mail, Digest: map[string]notify.Channel{plan.TargetOutbox: mail}}, Apply: true})
	if err != nil || res.Err != nil {
		t.Fatal(err, res.Err)
	}
	if res.Mode != plan.ModeApply || !slices.Contains(res.Notes, NoteOffline) {
		t.Errorf("mode %s, notes %v; want apply and the note that an offline report cannot be remediated", res.Mode, res.Notes)
	}
	sent := mail.take()
	if len(sent) != 2 || strings.Contains(sent[0].Text, "will be disabled") || !strings.Contains(sent[0].Text, "It is past the 80-day limit.") {
		t.Errorf("owner mail under --apply says:\n%s\nwant the truthful, not-enforced wording", sent[0].Text)
	}
	if a := res.Plan.Actions; len(a) != 1 || a[0].Status != plan.ActionListed || a[0].Reason != plan.ReasonOffline {
		t.Errorf("actions = %+v; want listed", a)
	}
}

func TestOpenState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	url := "sqlite://" + filepath.Join(dir, "kw.db")
	ro, err := OpenState(ctx, url, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ro.(*memstore.Store); !ok {
		t.Errorf("OpenState(missing file, read-only) = %T; want an empty in-memory store", ro)
	}
	if _, err := os.Stat(filepath.Join(dir, "kw.db")); !errors.Is(err, os.ErrNotExist) {
		t.Error("a read-only open created the file")
	}
	rw, err := OpenState(ctx, url, false)
	if err != nil {
		t.Fatal(err)
	}
	rw.Close()
	ro, err = OpenState(ctx, url, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ro.(*sqlite.Store); !ok {
		t.Errorf("OpenState(existing, read-only) = %T; want the SQLite store", ro)
	}
	ro.Close()
	if _, err := OpenState(ctx, "redis://x", false); err == nil || err.Error() != `state "redis://x": want sqlite://PATH or dynamodb://TABLE` {
		t.Errorf("OpenState(redis://x) error = %v; want the URL refused", err)
	}
	var _ state.Store = rw

	// DynamoDB, against a fake endpoint that knows one table.
	var mu sync.Mutex
	var ops []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
		mu.Lock()
		ops = append(ops, op)
		mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		if op != "DescribeTable" || !strings.Contains(string(body), `"state-table"`) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}`)
			return
		}
		keys := func(h, r string) string {
			return `[{"AttributeName":"` + h + `","KeyType":"HASH"},{"AttributeName":"` + r + `","KeyType":"RANGE"}]`
		}
		fmt.Fprint(w, `{"Table":{"TableName":"state-table","TableStatus":"ACTIVE","KeySchema":`+keys("pk", "sk")+
			`,"GlobalSecondaryIndexes":[{"IndexName":"gsi1","KeySchema":`+keys("gsi1pk", "gsi1sk")+`,"Projection":{"ProjectionType":"ALL"}}]}}`)
	}))
	defer srv.Close()
	loads := 0
	loadAWS := func(context.Context) (aws.Config, error) {
		loads++
		return aws.Config{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider("testing", "testing", "")}, nil
	}
	dro, err := OpenStateWith(ctx, "dynamodb://state-table", true, loadAWS)
	if err != nil {
		t.Fatalf("OpenStateWith(dynamodb://state-table, read-only) error: %v", err)
	}
	if _, ok := dro.(*dynamostate.Store); !ok {
		t.Errorf("OpenStateWith(dynamodb://state-table) = %T; want the DynamoDB store", dro)
	}
	if _, err := dro.Claim(ctx, state.Claim{Key: state.NoticeKey{Finding: "f", Audience: "a@example.com"}, Stage: 1, Day: "2026-11-01",
		RemindEvery: 1, Run: "r"}); !errors.Is(err, dynamostate.ErrReadOnly) {
		t.Errorf("Claim on read-only DynamoDB state error = %v; want ErrReadOnly", err)
	}
	mu.Lock()
	got := slices.Clone(ops)
	mu.Unlock()
	if diff := cmp.Diff([]string{"DescribeTable"}, got); diff != "" {
		t.Errorf("DynamoDB operations of a read-only open and a refused claim (-want +got):\n%s", diff)
	}
	_, err = OpenStateWith(ctx, "dynamodb://missing-table", false, loadAWS)
	if want := "open state dynamodb://missing-table (region eu-west-1): DynamoDB table missing-table: table not found: create it with"; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("OpenStateWith(missing table) error = %v; want it to start %q", err, want)
	}
	loads = 0
	if _, err := OpenStateWith(ctx, "dynamodb://a", false, loadAWS); err == nil || !strings.Contains(err.Error(), `"a" is not a DynamoDB table name`) || loads != 0 {
		t.Errorf("OpenStateWith(dynamodb://a) error = %v, %d AWS config loads; want the name refused first", err, loads)
	}
	failing := func(context.Context) (aws.Config, error) { return aws.Config{}, errors.New("no credentials") }
	if _, err := OpenStateWith(ctx, "dynamodb://state-table", false, failing); err == nil || err.Error() != "open state dynamodb://state-table: no credentials" {
		t.Errorf("OpenStateWith(config fails) error = %v; want it passed on", err)
	}
}
