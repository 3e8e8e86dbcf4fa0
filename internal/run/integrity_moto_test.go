package run

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/state/sqlite"
	"github.com/keywarden/keywarden/internal/state/statetest"
	"github.com/keywarden/keywarden/internal/testenv"
)

// TestApplyUnderStateFaults: a run that acts, whose state fails to record
// an action (before or after the write took effect) or its outcome, then
// a run on a healthy state. The first run's headline names what the state
// failed to do; alice's key is disabled once, never twice; the audit trail
// ends with one record of it done, as soon as the credential shows it
// (the next run reconciles an outcome left unrecorded).
func TestApplyUnderStateFaults(t *testing.T) {
	const outcome = "the state sqlite://keywarden.db failed to record an action's outcome (1 error)"
	const notMade = "1 action failed (tried again on the next run) (1 error)"
	for _, tt := range []struct {
		fault statetest.Fault
		// headline is the first run's; first the status of alice's
		// record after it ("" none); second after the next run; key the
		// key's status after the next run.
		headline, first, second, key string
	}{
		{statetest.Fault{Op: "FinishAction", After: true}, outcome, "done", "done", "Inactive"},
		{statetest.Fault{Op: "FinishAction"}, outcome, "planned", "done", "Inactive"},
		{statetest.Fault{Op: "RecordAction"}, notMade, "", "done", "Inactive"},
		// The planned record took effect, the action was not made: the
		// record stays planned; the first run recorded its end, so the next
		// run settles it at once (the key is still active: failed,
		// superseded by its own action) and disables the key.
		{statetest.Fault{Op: "RecordAction", After: true}, notMade, "planned", "done,failed", "Inactive"},
	} {
		t.Run(fmt.Sprintf("%s after=%v", tt.fault.Op, tt.fault.After), func(t *testing.T) {
			m := testenv.Moto(t)
			alice := m.Seed(t, aliceAndFresh(85))["alice"][0]
			dir := t.TempDir()
			cfg, err := config.Parse("k.yaml", []byte(strings.ReplaceAll(`version: 1
notify:
  users: { email_tags: [Email], allowed_domains: [example.com], via: outbox }
  outbox: { dir: DIR/outbox }
enforce:
  mode: apply
  allowed_accounts: ["123456789012"]
`, "DIR", dir)))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			db, err := sqlite.Open(ctx, filepath.Join(dir, "state.db"), sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			now := time.Now().UTC()
			run := func(store state.Store, id string) *Result {
				res, err := Run(ctx, RunOptions{Scan: ScanOptions{Config: cfg, AsOf: now, Now: now,
					LoadAWSConfig: func(context.Context) (aws.Config, error) { return m.Config(t), nil }}, Store: store, RunID: id})
				if err != nil {
					t.Fatal(err)
				}
				return res
			}
			// record is the statuses of alice's records, the most recent
			// first; never more than one of them done.
			record := func() string {
				as, err := db.Actions(ctx, state.ActionFilter{KeyID: alice})
				if err != nil {
					t.Fatal(err)
				}
				var sts []string
				done := 0
				for _, a := range as {
					sts = append(sts, string(a.Status))
					if a.Status == state.ActionDone {
						done++
					}
				}
				if done > 1 {
					t.Fatalf("alice's records: %+v; want one done at most", as)
				}
				return strings.Join(sts, ",")
			}
			faulty := statetest.NewFaulty(db, tt.fault)
			res := run(faulty, "run-1")
			if got := res.Headline(); got != tt.headline {
				t.Errorf("first run's headline = %q; want %q", got, tt.headline)
			}
			if faulty.Failed(tt.fault.Op) != 1 {
				t.Errorf("%d %s calls failed; want 1", faulty.Failed(tt.fault.Op), tt.fault.Op)
			}
			if got := record(); got != tt.first {
				t.Errorf("alice's record after the first run: %q; want %q", got, tt.first)
			}
			res = run(db, "run-2")
			if res.Err != nil {
				t.Errorf("the next run's errors: %v", res.Err)
			}
			if got := record(); got != tt.second {
				t.Errorf("alice's record after the next run: %q; want %q", got, tt.second)
			}
			keys, err := iam.NewFromConfig(m.Config(t)).ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("alice")})
			if err != nil || len(keys.AccessKeyMetadata) != 1 || string(keys.AccessKeyMetadata[0].Status) != tt.key {
				t.Errorf("alice's keys: %+v, %v; want one, %s", keys, err, tt.key)
			}
		})
	}
}

// aliceAndFresh is alice, with a key age days old, and eight users with a
// fresh key, so that her key stays under enforce.max_fraction.
func aliceAndFresh(age int) []testenv.SeedUser {
	users := []testenv.SeedUser{{Name: "alice", Tags: map[string]string{"Email": "alice@example.com"},
		Keys: []testenv.SeedKey{{AgeDays: age, LastUsedDaysAgo: 1}}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1}}
	for i := range 8 {
		users = append(users, testenv.SeedUser{Name: fmt.Sprintf("fresh%d", i), Keys: []testenv.SeedKey{{AgeDays: 5, LastUsedDaysAgo: 1}},
			PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1})
	}
	return users
}
