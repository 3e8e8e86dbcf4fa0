package main

import (
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/testenv"
)

// TestUndoUnderFaults: `keywarden undo` whose UpdateAccessKey fails.
// When every attempt takes effect and answers an error (the answer lost),
// the undo is recorded done, as IAM has it; when none takes effect, it is
// recorded failed with the key still inactive, and the next undo enables
// it. Once the key is active, undo again writes nothing.
func TestUndoUnderFaults(t *testing.T) {
	for _, c := range []struct {
		name  string
		fault testenv.Fault
		// taken: the write takes effect despite the error.
		taken bool
	}{
		{"error-after-the-write", testenv.Fault{AfterForward: true, Code: "ServiceFailure", Status: 500}, true},
		{"dropped-after-the-write", testenv.Fault{AfterForward: true, Drop: true}, true},
		{"error", testenv.Fault{Code: "ServiceFailure", Status: 500}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := testenv.Moto(t)
			dir, ids := enforceSetup(t, m, withFresh(keyUser("alice", 85)), strings.Replace(enforceConfig, "enforce:\n", "enforce:\n  mode: apply\n", 1))
			key := ids["alice"][0]
			p := m.NewProxy(t)
			env := p.Env(m)
			if r := keywarden(t, env, dir, "run", "--apply", "--format", "json"); r.code != 0 {
				t.Fatalf("run --apply: exit %d\n%s", r.code, r.stderr)
			}
			disable := recsOf(history(t, env, dir, "--key-id", key), state.KindDisable)
			if keyStatus(t, m, "alice")[key] != "Inactive" || disable == "none" {
				t.Fatalf("alice's key not disabled by the run (action %s)", disable)
			}

			var failing atomic.Bool
			failing.Store(true)
			f := c.fault
			f.Match = func(o testenv.Op) bool { return failing.Load() && o.Name() == "iam:UpdateAccessKey" }
			p.Inject(f)
			p.Reset()
			r := keywarden(t, env, dir, "undo", disable, "--format", "json")
			failing.Store(false)
			if p.Count("iam:UpdateAccessKey") == 0 {
				t.Fatal("undo made no UpdateAccessKey call")
			}
			enable := history(t, env, dir, "--key-id", key)[0]
			if enable.Kind != state.KindEnable || enable.UndoOf != disable {
				t.Fatalf("latest record = %+v; want the undo of %s", enable, disable)
			}
			if c.taken {
				if r.code != 0 || keyStatus(t, m, "alice")[key] != "Active" {
					t.Fatalf("undo: exit %d, key %s; want 0 and Active\n%s", r.code, keyStatus(t, m, "alice")[key], r.stderr)
				}
				if enable.Status != state.ActionDone || enable.Before != state.KeyInactive || enable.After != state.KeyActive ||
					!strings.Contains(enable.Reason, "the call answered an error, but a re-read shows the key Active") {
					t.Errorf("undo record = %s %q (%s → %s); want done, Inactive → Active, saying a re-read shows the key Active",
						enable.Status, enable.Reason, enable.Before, enable.After)
				}
			} else {
				if r.code != 1 || keyStatus(t, m, "alice")[key] != "Inactive" {
					t.Fatalf("undo: exit %d, key %s; want 1 and still Inactive\n%s", r.code, keyStatus(t, m, "alice")[key], r.stderr)
				}
				if enable.Status != state.ActionFailed || enable.After != state.KeyInactive || !strings.Contains(r.stderr, "ServiceFailure") {
					t.Errorf("undo record = %s %q (after: %s); want failed, the key still Inactive, the error named", enable.Status, enable.Reason, enable.After)
				}
				// The endpoint recovers: undo again enables it, once.
				p.Reset()
				if r := keywarden(t, env, dir, "undo", disable, "--format", "json"); r.code != 0 || keyStatus(t, m, "alice")[key] != "Active" {
					t.Fatalf("undo again: exit %d, key %s; want 0 and Active\n%s", r.code, keyStatus(t, m, "alice")[key], r.stderr)
				}
				if n := p.Count("iam:UpdateAccessKey"); n != 1 {
					t.Errorf("undo again made %d UpdateAccessKey calls; want 1", n)
				}
			}

			// The key is active: undo again re-checks it and writes nothing.
			p.Reset()
			r = keywarden(t, env, dir, "undo", disable, "--format", "json")
			if r.code != 0 || p.Count("iam:UpdateAccessKey") != 0 {
				t.Errorf("undo of an undone disable: exit %d, %d UpdateAccessKey calls; want 0 and none\n%s", r.code, p.Count("iam:UpdateAccessKey"), r.stderr)
			}
			done := 0
			for _, a := range history(t, env, dir, "--key-id", key) {
				if a.Kind == state.KindEnable && a.Status == state.ActionDone {
					done++
				}
			}
			if latest := history(t, env, dir, "--key-id", key)[0]; latest.Status != state.ActionSkipped || done != 1 {
				t.Errorf("after undo again: latest record %s %q, %d enables done; want skipped (already active) and 1", latest.Status, latest.Reason, done)
			}
		})
	}
}
