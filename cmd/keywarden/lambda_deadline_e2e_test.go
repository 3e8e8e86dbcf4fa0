package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/lambda"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/testenv"
)

// TestLambdaDeadlineUnderSlowWrites: a Lambda invocation that acts, whose
// IAM writes each take 2 s (the proxy's delay), with 12 s to live. The
// work stops a fifth of that (2.4 s) before the deadline with some keys
// not yet disabled: the function still answers in time with what it did,
// records the run and every action it finished, leaves nothing planned,
// and the next invocation finishes the rest.
func TestLambdaDeadlineUnderSlowWrites(t *testing.T) {
	m := testenv.Moto(t)
	owners := []string{"alice", "bob", "carol", "dan", "gina", "frank"}
	var users []testenv.SeedUser
	for _, u := range owners {
		users = append(users, keyUser(u, 85))
	}
	dir, ids := enforceSetup(t, m, withFresh(users...), strings.Replace(enforceConfig, "enforce:\n", "enforce:\n  mode: apply\n  max_fraction: 0.5\n", 1))
	raw, err := os.ReadFile(filepath.Join(dir, "keywarden.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	config := string(raw)
	p := m.NewProxy(t)
	var slow atomic.Bool
	slow.Store(true)
	p.Inject(testenv.Fault{Match: func(o testenv.Op) bool { return slow.Load() && o.Name() == "iam:UpdateAccessKey" }, Delay: 2 * time.Second})
	event := `{"version":"0","detail-type":"Scheduled Event","source":"aws.scheduler","detail":{"apply":true}}`

	start := time.Now()
	r := invokeLambdaWithin(t, p.Env(m), config, event, 12*time.Second)
	took := time.Since(start)
	if r.failed != "" {
		t.Fatalf("the function failed: %s\nlogs:\n%s", r.failed, r.logs)
	}
	var s lambda.Summary
	if err := json.Unmarshal([]byte(r.answer), &s); err != nil {
		t.Fatalf("answer is not a summary: %v\n%s", err, r.answer)
	}
	// The runtime's deadline is 12 s after the event was handed over.
	if took > 12*time.Second {
		t.Errorf("the function answered after %v; want within its 12 s", took)
	}
	disabled := 0
	for _, u := range owners {
		if keyStatus(t, m, u)[ids[u][0]] == "Inactive" {
			disabled++
		}
	}
	if disabled == 0 || disabled == len(owners) {
		t.Fatalf("%d of %d keys disabled before the deadline; want some, not all (the test's delay does not fit the deadline)\nlogs:\n%s",
			disabled, len(owners), r.logs)
	}
	if s.ActionsDone != disabled {
		t.Errorf("summary: %d actions done; IAM has %d keys disabled\n%s", s.ActionsDone, disabled, r.answer)
	}
	if !strings.Contains(r.logs, `"msg":"keywarden run finished"`) {
		t.Errorf("the function did not log the run's end:\n%s", r.logs)
	}

	env := p.Env(m)
	runs := runsOf(t, env, dir)
	if len(runs) != 1 || runs[0].ID != s.RunID {
		t.Fatalf("runs recorded = %+v; want the invocation's run %s", runs, s.RunID)
	}
	done := 0
	for _, a := range history(t, env, dir) {
		switch a.Status {
		case state.ActionDone:
			done++
		case state.ActionPlanned:
			t.Errorf("action %s on %s is left planned after the deadline", a.ID, a.KeyID)
		}
	}
	if done != disabled {
		t.Errorf("%d actions recorded done; IAM has %d keys disabled", done, disabled)
	}

	// The next invocation, with time enough and IAM fast again, disables
	// the rest.
	slow.Store(false)
	r = invokeLambdaWithin(t, p.Env(m), config, event, 2*time.Minute)
	if r.failed != "" {
		t.Fatalf("the second invocation failed: %s\nlogs:\n%s", r.failed, r.logs)
	}
	for _, u := range owners {
		if got := keyStatus(t, m, u)[ids[u][0]]; got != "Inactive" {
			t.Errorf("after the second invocation %s's key is %s; want Inactive", u, got)
		}
	}
}
