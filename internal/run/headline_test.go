package run

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/state/memstore"
	"github.com/keywarden/keywarden/internal/state/sqlite"
	"github.com/keywarden/keywarden/internal/state/statetest"
)

// headlineRun is a notify run of three owners (alice, bob at 75 days,
// carol at 85) and the outbox digest, on store, through mail.
func headlineRun(t *testing.T, store state.Store, mail *recorder) RunOptions {
	asOf := day("2026-11-23").Add(9 * time.Hour)
	report := writeReport(t, reportRow("alice@example.com", asOf.AddDate(0, 0, -75)), reportRow("bob@example.com", asOf.AddDate(0, 0, -75)),
		reportRow("carol@example.com", asOf.AddDate(0, 0, -85)))
	return RunOptions{Scan: ScanOptions{Config: cadenceConfig(), AsOf: asOf, Now: asOf, CredentialReport: report}, Store: store,
		StateURL: "sqlite://state.db", Channels: &Channels{User: mail, Digest: map[string]notify.Channel{plan.TargetOutbox: mail}}}
}

// TestHeadlineSaysWhatFailed: the run's headline names what failed — the
// notifications, the state and what it did not record — never "0 of 4
// notifications failed" for a run whose state failed. (Four messages:
// three owners and the digest, which carries three notices.)
func TestHeadlineSaysWhatFailed(t *testing.T) {
	bobFails := func(m *notify.Message) error {
		if m.Kind == notify.KindUser && m.To[0] == "bob@example.com" {
			return errors.New("ses: MessageRejected")
		}
		return nil
	}
	for _, tt := range []struct {
		name   string
		faults []statetest.Fault
		fail   func(*notify.Message) error
		want   string
	}{
		{"the run not recorded", []statetest.Fault{{Op: "RecordRun"}}, nil,
			"the state sqlite://state.db failed to record the run (1 error)"},
		{"deliveries not recorded", []statetest.Fault{{Op: "Sent", After: true}}, nil,
			"the state sqlite://state.db failed to record a sent notice (6 times) (6 errors)"},
		{"resolved notices not closed", []statetest.Fault{{Op: "Resolve"}}, nil,
			"the state sqlite://state.db failed to close the notices of resolved findings (1 error)"},
		{"a claim", []statetest.Fault{{Op: "Claim", Times: 1}}, nil,
			"1 of 4 notifications failed (tried again on the next run); the state sqlite://state.db failed to claim a notice (1 error)"},
		{"a channel and the state", []statetest.Fault{{Op: "RecordRun"}}, bobFails,
			"1 of 4 notifications failed (tried again on the next run); the state sqlite://state.db failed to record the run (2 errors)"},
		{"a channel", nil, bobFails,
			"1 of 4 notifications failed (tried again on the next run) (1 error)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := statetest.NewFaulty(memstore.New(), tt.faults...)
			opts := headlineRun(t, store, &recorder{name: "outbox", fail: tt.fail})
			if tt.name == "resolved notices not closed" {
				// A first run tells carol; her key is then rotated, so the
				// second run resolves her notice.
				if _, err := Run(context.Background(), opts); err != nil {
					t.Fatal(err)
				}
				opts.Scan.CredentialReport = writeReport(t, reportRow("alice@example.com", opts.Scan.AsOf.AddDate(0, 0, -75)),
					reportRow("bob@example.com", opts.Scan.AsOf.AddDate(0, 0, -75)))
			}
			res, err := Run(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			if got := res.Headline(); got != tt.want {
				t.Errorf("Headline() = %q; want %q", got, tt.want)
			}
			if store.Failed("") == 0 && tt.faults != nil {
				t.Error("no state call failed: the test tested nothing")
			}
		})
	}
	if got := (&Result{}).Headline(); got != "" {
		t.Errorf("Headline() of a run without errors = %q; want \"\"", got)
	}
	r := &Result{Err: errors.Join(errors.New("enforce.stop_parameter p cannot be read"), errors.New("audit file: disk full"))}
	if got, want := r.Headline(), "the run had 2 errors"; got != want {
		t.Errorf("Headline() of other errors = %q; want %q", got, want)
	}
}

// TestDeliveriesRecordedDespiteLostAnswers: every Sent of a run takes effect
// and answers an error; the run says the deliveries were not recorded, and
// the next run, reading the state, sends none of them again.
func TestDeliveriesRecordedDespiteLostAnswers(t *testing.T) {
	mem := memstore.New()
	store := statetest.NewFaulty(mem, statetest.Fault{Op: "Sent", After: true})
	mail := &recorder{name: "outbox"}
	res, err := Run(context.Background(), headlineRun(t, store, mail))
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 4 || res.Failed != 0 || !strings.Contains(res.Err.Error(), "sent, but not recorded") {
		t.Fatalf("run with lost Sent answers: %d sent, %d failed, %v; want 4 sent and 'sent, but not recorded'", res.Sent, res.Failed, res.Err)
	}
	mail.take()
	res, err = Run(context.Background(), headlineRun(t, mem, mail))
	if err != nil || res.Err != nil {
		t.Fatal(err, res.Err)
	}
	if sent := mail.take(); len(sent) != 0 {
		t.Errorf("the next run sent %d messages again; want none (the first run's deliveries were recorded)", len(sent))
	}
}

// TestStateBusy: another process holds the SQLite state's write lock
// longer than the busy timeout for a whole run: nothing is sent (no claim
// could be taken), the headline says the state failed, and once the lock
// is released the next run tells every owner once.
func TestStateBusy(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	store, err := sqlite.Open(ctx, path, sqlite.Options{BusyTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	mail := &recorder{name: "outbox"}
	opts := headlineRun(t, store, mail)
	res, err := Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sent := mail.take(); len(sent) != 0 || res.Failed != 4 {
		t.Errorf("run on a locked state: %d sent, %d failed; want 0 and 4", len(sent), res.Failed)
	}
	want := "4 of 4 notifications failed (tried again on the next run); the state sqlite://state.db failed to claim a notice (4 times), record the run (5 errors)"
	if got := res.Headline(); got != want {
		t.Errorf("Headline() = %q; want %q", got, want)
	}
	if !strings.Contains(res.Err.Error(), "SQLITE_BUSY") {
		t.Errorf("errors = %v; want SQLITE_BUSY named", res.Err)
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	res, err = Run(ctx, opts)
	if err != nil || res.Err != nil {
		t.Fatal(err, res.Err)
	}
	if sent := mail.take(); len(sent) != 4 {
		t.Errorf("run after the lock was released sent %d messages; want 4", len(sent))
	}
}
