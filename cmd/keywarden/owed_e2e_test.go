package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/testenv"
)

// owedConfig is enforceConfig acting on up to half an account's keys.
var owedConfig = strings.Replace(enforceConfig, "  grace_after_disable: 14\n", "  grace_after_disable: 14\n  max_fraction: 0.5\n", 1)

// owedOwners are four owners of an 85-day key (disabled by a run that
// acts) among withFresh's eight fresh keys.
var owedOwners = []string{"olga", "oscar", "otto", "ona"}

func owedUsers() []testenv.SeedUser {
	var us []testenv.SeedUser
	for _, u := range owedOwners {
		us = append(us, keyUser(u, 85))
	}
	return withFresh(us...)
}

// blockOutbox makes dir's outbox unwritable for one run: a directory
// without write permission, or, where permissions do not bind (root), a
// file where the directory should be. unblock undoes it.
func blockOutbox(t *testing.T, dir string) (unblock func()) {
	t.Helper()
	out := filepath.Join(dir, "outbox")
	if os.Geteuid() == 0 {
		if err := os.WriteFile(out, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		return func() {
			if err := os.Remove(out); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(out, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(out, 0o700) })
	return func() {
		if err := os.Chmod(out, 0o700); err != nil {
			t.Fatal(err)
		}
	}
}

// doneMentions counts, in the outbox's mail to owners, the messages that
// tell that key was disabled by keywarden, and in its digests the lines
// that list its disabling.
func doneMentions(t *testing.T, dir, key string) (owners, digests int) {
	t.Helper()
	for _, m := range outboxMail(t, dir, "_user_") {
		if strings.Contains(m.Text, key) && strings.Contains(m.Text, "by keywarden (action ") && strings.Contains(m.Text, "It was disabled on ") {
			owners++
		}
	}
	for _, m := range outboxMail(t, dir, "_digest_") {
		digests += strings.Count(m.Text, "disabled access key "+key)
	}
	return owners, digests
}

// TestOwedAfterFailedDelivery: a run that acts while its outbox is
// unwritable changes every key and fails every delivery (exit 1); the next
// run, the outbox writable again, tells every owner of every changed key
// (what was done, on which day, by which action) and lists every change in
// the digest; a third run tells nobody anything again.
func TestOwedAfterFailedDelivery(t *testing.T) {
	m := testenv.Moto(t)
	dir, ids := enforceSetup(t, m, owedUsers(), owedConfig)
	// The test is about the keys' changes told late: with a compliant
	// password policy the account has no finding of its own, so once the
	// keys are disabled the digest says "all compliant".
	m.CompliantPasswordPolicy(t, m.Config(t))
	p := m.NewProxy(t)
	env := p.Env(m)
	runApply := func() result {
		t.Helper()
		return keywarden(t, env, dir, "run", "--apply", "--format", "json")
	}

	unblock := blockOutbox(t, dir)
	r := runApply()
	if r.code != 1 {
		t.Fatalf("run with an unwritable outbox: exit %d; want 1\n%s", r.code, r.stderr)
	}
	res := decodeRun(t, r)
	if res.ActionsDone != len(owedOwners) || res.Sent != 0 || res.Failed == 0 {
		t.Fatalf("run with an unwritable outbox: %d done, %d sent, %d failed; want %d done, none sent", res.ActionsDone, res.Sent, res.Failed, len(owedOwners))
	}
	actionOf, dayOf := map[string]string{}, map[string]string{} // key → action ID, the day it was made
	for _, a := range history(t, env, dir) {
		if a.Status == state.ActionDone {
			actionOf[a.KeyID], dayOf[a.KeyID] = a.ID, state.Day(a.FinishedAt)
		}
	}
	for _, u := range owedOwners {
		if st := keyStatus(t, m, u); st[ids[u][0]] != "Inactive" {
			t.Fatalf("%s's key after the run: %v; want Inactive", u, st)
		}
		if actionOf[ids[u][0]] == "" {
			t.Fatalf("no done action on %s's key %s", u, ids[u][0])
		}
	}
	unblock()

	p.Reset()
	r = runApply()
	if r.code != 0 {
		t.Fatalf("the next run: exit %d\n%s", r.code, r.stderr)
	}
	res = decodeRun(t, r)
	if len(res.Plan.Owed) != len(owedOwners) {
		t.Errorf("the next run's owed outcomes = %+v; want the %d disables", res.Plan.Owed, len(owedOwners))
	}
	if w := iamWritesBy(p); len(w) != 0 {
		t.Errorf("the next run made IAM writes: %v; want none (the keys are inactive)", w)
	}
	for _, u := range owedOwners {
		key := ids[u][0]
		mails := outboxMail(t, dir, "_user_"+u+"@")
		want := fmt.Sprintf("It was disabled on %s by keywarden (action %s).", dayOf[key], actionOf[key])
		if len(mails) != 1 || !strings.Contains(mails[0].Text, want) || !strings.Contains(mails[0].Text, key) {
			t.Errorf("%s's mail after the next run: %d messages%s; want one saying %q of %s", u, len(mails), firstText(mails), want, key)
		}
		if owners, digests := doneMentions(t, dir, key); owners != 1 || digests != 1 {
			t.Errorf("%s's key %s: told %d times to its owner and listed %d times in digests; want once each", u, key, owners, digests)
		}
	}

	// The keys' findings are gone (disabled); the digest's subject still
	// counts the changes it reports.
	if d := outboxMail(t, dir, "_digest_"); len(d) != 1 || !strings.Contains(d[0].Subject, fmt.Sprintf("all compliant, %d actions taken", len(owedOwners))) {
		t.Errorf("the next run's digests: %d%s; want one whose subject counts the %d actions taken", len(d), subjects(d), len(owedOwners))
	} else if n := strings.Count(d[0].HTML, "by an earlier run; not reported until now"); n != len(owedOwners) {
		t.Errorf("the digest's HTML marks %d changes as told late; want %d", n, len(owedOwners))
	}

	before := outboxMail(t, dir, "")
	r = runApply()
	if r.code != 0 {
		t.Fatalf("the third run: exit %d\n%s", r.code, r.stderr)
	}
	if res = decodeRun(t, r); len(res.Plan.Owed) != 0 || res.Sent != 0 {
		t.Errorf("the third run: %d owed, %d sent; want nothing owed, nothing sent", len(res.Plan.Owed), res.Sent)
	}
	if after := outboxMail(t, dir, ""); len(after) != len(before) {
		t.Errorf("the third run wrote %d messages; want none", len(after)-len(before))
	}
}

func subjects(ms []testenv.Mail) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Subject)
	}
	return fmt.Sprintf(" %q", out)
}

func firstText(ms []testenv.Mail) string {
	if len(ms) == 0 {
		return ""
	}
	return ":\n" + ms[0].Text
}

// TestConcurrentRunsTellOnce: three `run --apply` at once on one SQLite
// state and one outbox: every key is acted on once (one IAM write, one
// done record), and every owner is told of the change to their key
// exactly once, as is the digest.
func TestConcurrentRunsTellOnce(t *testing.T) {
	m := testenv.Moto(t)
	dir, ids := enforceSetup(t, m, owedUsers(), owedConfig)
	p := m.NewProxy(t)
	env := p.Env(m)

	var wg sync.WaitGroup
	results := make([]result, 3)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = keywarden(t, env, dir, "run", "--apply", "--format", "json")
		}()
	}
	wg.Wait()
	for i, r := range results {
		res := decodeRun(t, r)
		t.Logf("run %d: %d done, %d skipped, %d outcomes of other runs told", i+1, res.ActionsDone, res.ActionsSkipped, len(res.Plan.Owed))
		for _, d := range res.Deliveries {
			t.Logf("  %s to %v: %s, %d notices %s", d.Kind, d.To, d.Status, d.Notices, d.Error)
		}
		if r.code != 0 {
			t.Errorf("run %d: exit %d\n%s", i+1, r.code, r.stderr)
		}
	}

	done := map[string]int{}
	for _, a := range history(t, env, dir) {
		if a.Status == state.ActionDone {
			done[a.KeyID]++
		}
	}
	writes := iamWritesBy(p)
	for _, u := range owedOwners {
		key := ids[u][0]
		if done[key] != 1 || writes["UpdateAccessKey "+key] != 1 {
			t.Errorf("%s's key %s: %d done records, %d UpdateAccessKey calls; want 1 each", u, key, done[key], writes["UpdateAccessKey "+key])
		}
		if st := keyStatus(t, m, u); st[key] != "Inactive" {
			t.Errorf("%s's key: %v; want Inactive", u, st)
		}
		if owners, digests := doneMentions(t, dir, key); owners != 1 || digests != 1 {
			t.Errorf("%s's key %s: told %d times to its owner and listed %d times in digests; want once each", u, key, owners, digests)
		}
	}
	if len(writes) != len(owedOwners) {
		t.Errorf("IAM writes = %v; want one UpdateAccessKey per stale key", writes)
	}
}
