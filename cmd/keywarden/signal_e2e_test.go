package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/run"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/testenv"
)

// signalUsers is how many users have a key past its disable stage in the
// signal tests: each is one action of the run.
const signalUsers = 30

// signalConfig is enforceConfig with guards that let all signalUsers
// keys be disabled in one run.
var signalConfig = strings.Replace(enforceConfig, "  grace_after_disable: 14\n",
	"  grace_after_disable: 14\n  max_actions_per_run: 100\n  max_fraction: 1\n", 1)

// signalSetup seeds signalUsers users with an 85-day-old key (past the
// 80-day disable stage) and returns the config's directory, the key of
// each user, the proxy and its env.
func signalSetup(t *testing.T) (*testenv.MotoServer, string, map[string]string, *testenv.Proxy, []string) {
	t.Helper()
	m := testenv.Moto(t)
	var users []testenv.SeedUser
	for i := range signalUsers {
		users = append(users, keyUser(fmt.Sprintf("stale%02d", i), 85))
	}
	dir, ids := enforceSetup(t, m, users, signalConfig)
	keys := map[string]string{}
	for user, k := range ids {
		keys[user] = k[0]
	}
	p := m.NewProxy(t)
	return m, dir, keys, p, p.Env(m)
}

// lockedBuffer is a buffer the process writes while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// signalRun is a `keywarden run --apply --format json` to signal.
type signalRun struct {
	cmd            *exec.Cmd
	stdout, stderr lockedBuffer
}

// startRun prepares `keywarden run --apply --format json` in dir; wait
// starts it, waits for it and returns its result.
func startRun(t *testing.T, env []string, dir string) (*signalRun, func() result) {
	t.Helper()
	r := &signalRun{cmd: exec.Command(binary, "run", "--apply", "--format", "json")}
	cmd := r.cmd
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &r.stdout, &r.stderr
	return r, func() result {
		t.Helper()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("run keywarden: %v", err)
		}
		return result{code, r.stdout.String(), r.stderr.String()}
	}
}

// signal sends sig and waits (up to a minute) until the process says it
// took it: from then on it starts no new work.
func (r *signalRun) signal(sig os.Signal) {
	_ = r.cmd.Process.Signal(sig)
	taken := "keywarden: interrupted by " + run.SignalName(sig) + ": no new work is started"
	for end := time.Now().Add(time.Minute); time.Now().Before(end) && !strings.Contains(r.stderr.String(), taken); {
		time.Sleep(10 * time.Millisecond)
	}
}

// inactiveKeys counts the seeded keys moto has inactive.
func inactiveKeys(t *testing.T, m *testenv.MotoServer, keys map[string]string) int {
	t.Helper()
	n := 0
	for user, key := range keys {
		if keyStatus(t, m, user)[key] == "Inactive" {
			n++
		}
	}
	return n
}

// TestSIGINTStopsGracefully: SIGINT arrives while the 7th key's disable
// is in flight (moto made it, its answer is held until the signal has been
// taken). The run finishes that action and records it, starts no other,
// sends nothing, records itself as interrupted and exits 6 naming the
// signal; nothing is left planned, so a rerun at once carries out the 23
// actions not started, none twice, none skipped for a lock.
func TestSIGINTStopsGracefully(t *testing.T) { testGracefulStop(t, os.Interrupt, 7) }

// TestSIGTERMStopsGracefully: the same with SIGTERM (a scheduler's, or
// the Lambda runtime's, stop), at the first write.
func TestSIGTERMStopsGracefully(t *testing.T) { testGracefulStop(t, syscall.SIGTERM, 1) }

func testGracefulStop(t *testing.T, sig os.Signal, n int) {
	m, dir, keys, p, env := signalSetup(t)
	name := run.SignalName(sig)
	kw, wait := startRun(t, env, dir)
	var mu sync.Mutex
	writes := 0
	p.Inject(testenv.Fault{Match: testenv.IsOp("iam:UpdateAccessKey"), After: func(testenv.Op) {
		mu.Lock()
		writes++
		nth := writes == n
		mu.Unlock()
		if nth {
			kw.signal(sig) // the answer waits until it is taken: the action is in flight
		}
	}})
	r := wait()
	if r.code != 6 {
		t.Fatalf("exit %d after %s; want 6 (interrupted)\n%s", r.code, name, r.stderr)
	}
	if want := "keywarden: interrupted by " + name + ": the run started no new work after it"; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
	}
	if got := inactiveKeys(t, m, keys); got != n {
		t.Errorf("%d keys inactive in moto after %s at write %d; want %d (the one in flight finished, no other started)", got, name, n, n)
	}
	res := decodeRun(t, r)
	if res.ActionsDone != n || res.ActionsNotStarted != signalUsers-n || res.ActionsFailed != 0 || res.Sent != 0 || res.Failed != 0 ||
		res.NotSent != len(res.Deliveries) || !strings.HasPrefix(res.Interrupted, "interrupted by "+name) {
		t.Errorf("run: %d done, %d not started, %d failed; %d sent, %d failed, %d of %d not sent; interrupted %q\n"+
			"want %d done, %d not started, none failed, every message not sent, interrupted by %s",
			res.ActionsDone, res.ActionsNotStarted, res.ActionsFailed, res.Sent, res.Failed, res.NotSent, len(res.Deliveries), res.Interrupted,
			n, signalUsers-n, name)
	}
	done := 0
	for _, a := range history(t, env, dir) {
		switch {
		case a.Status == state.ActionPlanned:
			t.Errorf("record %s (%s) left planned by the stopped run", a.ID, a.KeyID)
		case a.Status == state.ActionDone && a.After == state.KeyInactive:
			done++
		default:
			t.Errorf("record %s (%s): %s %q; want only the done disables", a.ID, a.KeyID, a.Status, a.Reason)
		}
	}
	if done != n {
		t.Errorf("%d done records; want %d", done, n)
	}
	if runs := runsOf(t, env, dir); len(runs) != 1 || !strings.HasPrefix(runs[0].Error, "interrupted by "+name) {
		t.Errorf("runs %+v; want the stopped run, recorded as interrupted by %s", runs, name)
	}

	// The rerun, at once: the rest, each key once, no lock in the way.
	r = keywarden(t, env, dir, "run", "--apply", "--format", "json")
	if r.code != 0 {
		t.Fatalf("rerun: exit %d\n%s", r.code, r.stderr)
	}
	res = decodeRun(t, r)
	if res.ActionsDone != signalUsers-n || res.ActionsSkipped != 0 || res.ActionsFailed != 0 || res.ActionsNotStarted != 0 {
		t.Errorf("rerun: %d done, %d skipped, %d failed, %d not started; want %d done, nothing else", res.ActionsDone, res.ActionsSkipped,
			res.ActionsFailed, res.ActionsNotStarted, signalUsers-n)
	}
	for _, a := range res.Plan.Actions {
		if strings.Contains(a.Reason, "another keywarden run is acting") {
			t.Errorf("rerun: %s %s: %s", a.KeyID, a.Status, a.Reason)
		}
	}
	if got := inactiveKeys(t, m, keys); got != signalUsers {
		t.Errorf("%d keys inactive after the rerun; want all %d", got, signalUsers)
	}
	w := iamWritesBy(p)
	for user, key := range keys {
		if w["UpdateAccessKey "+key] != 1 {
			t.Errorf("%s's key %s: %d UpdateAccessKey calls over both runs; want exactly 1", user, key, w["UpdateAccessKey "+key])
		}
	}
	if pending := history(t, env, dir, "--status", "planned"); len(pending) != 0 {
		t.Errorf("planned records after the rerun: %+v", pending)
	}
}

// TestSecondSignalStopsAtOnce: a second SIGINT while the action is still
// in flight (its answer held) ends the process at once, with 130 (128 +
// SIGINT), without waiting for the answer: that action is left planned,
// as a killed run leaves it.
func TestSecondSignalStopsAtOnce(t *testing.T) {
	_, dir, _, p, env := signalSetup(t)
	kw, wait := startRun(t, env, dir)
	exited := make(chan struct{})
	held := make(chan bool, 1)
	p.Inject(testenv.Fault{Match: testenv.IsOp("iam:UpdateAccessKey"), Times: 1, After: func(testenv.Op) {
		kw.signal(os.Interrupt)
		_ = kw.cmd.Process.Signal(os.Interrupt)
		select { // the answer is held until the process is gone
		case <-exited:
			held <- true
		case <-time.After(time.Minute):
			held <- false
		}
	}})
	r := wait()
	close(exited)
	if r.code != 130 {
		t.Fatalf("exit %d after two SIGINTs; want 130\n%s", r.code, r.stderr)
	}
	if !<-held {
		t.Errorf("the process waited for the held answer; want it gone at the second signal")
	}
	if want := "keywarden: SIGINT again: stopped at once"; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
	}
	if pending := history(t, env, dir, "--status", "planned"); len(pending) != 1 {
		t.Errorf("planned records %+v; want the one in flight, left as a killed run leaves it", pending)
	}
}

// TestSignalDuringTheScan: SIGINT while the account is read stops the
// scan; nothing is planned, changed or sent, and the run is still
// recorded, as interrupted during the scan (exit 6).
func TestSignalDuringTheScan(t *testing.T) {
	m, dir, keys, p, env := signalSetup(t)
	kw, wait := startRun(t, env, dir)
	p.Inject(testenv.Fault{Match: testenv.IsOp("iam:GetAccountAuthorizationDetails"), Times: 1, After: func(testenv.Op) {
		kw.signal(os.Interrupt)
	}})
	r := wait()
	if r.code != 6 || !strings.Contains(r.stderr, "keywarden: interrupted by SIGINT") {
		t.Fatalf("exit %d after SIGINT during the scan; want 6, naming SIGINT\n%s", r.code, r.stderr)
	}
	if n := inactiveKeys(t, m, keys); n != 0 {
		t.Errorf("%d keys inactive; want none (the scan was stopped)", n)
	}
	if w := iamWritesBy(p); len(w) != 0 {
		t.Errorf("IAM writes %v; want none", w)
	}
	want := "interrupted by SIGINT during the scan: nothing was planned, sent or changed"
	if runs := runsOf(t, env, dir); len(runs) != 1 || runs[0].Error != want {
		t.Errorf("runs %+v; want the stopped run, recorded with %q", runs, want)
	}
}
