package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/run"
	"github.com/keywarden/keywarden/internal/testenv"
)

// TestApplyPreviewIsWhatApplyDoes: `run --apply --dry-run` evaluates the
// allowed accounts, the guards, the window and each credential's re-check,
// and lists as planned exactly what the following `run --apply` does —
// the same keys, the same kinds, the same skips — while it writes nothing:
// no IAM write (the proxy's request log), no state, outbox or audit file.
// Over a guard the preview stops where --apply stops (exit 5), and the
// guard's message points to the preview.
func TestApplyPreviewIsWhatApplyDoes(t *testing.T) {
	m := testenv.Moto(t)
	dave := keyUser("dave", 100)
	dave.Keys[0].Inactive, dave.Keys[0].LastUsedDaysAgo = true, 98
	users := withFresh(keyUser("alice", 85), keyUser("carol", 95), dave, keyUser("erin", 95), keyUser("bot", 95, "UserType", "machine"))
	dir, ids := enforceSetup(t, m, users, enforceConfig)
	guarded := enforceVariant(t, dir, "guarded.yaml", "max_actions_per_run: 2")
	p := m.NewProxy(t)
	env := p.Env(m)
	// outcome is what became of an action, in words both runs share: a
	// preview's planned action is a real run's done one.
	outcome := func(a plan.Action) string {
		st := a.Status
		if st == plan.ActionPlanned {
			st = plan.ActionDone
		}
		return strings.Join([]string{a.KeyID, st, a.Kind, a.Done, strings.TrimPrefix(a.Reason, run.DryRunPrefix)}, " ")
	}
	outcomes := func(res run.Result) []string {
		var out []string
		for _, a := range res.Plan.Actions {
			out = append(out, outcome(a))
		}
		slices.Sort(out)
		return out
	}
	nothingWritten := func(what string) {
		t.Helper()
		for _, op := range p.Ops() {
			if op.Service != "sts" && (op.Service != "iam" || !slices.Contains(iamReads, op.Name())) {
				t.Errorf("%s made %s; want reads only", what, op.Name())
			}
		}
		for _, f := range []string{"state.db", "outbox", "audit.jsonl"} {
			if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
				t.Errorf("%s created %s", what, f)
			}
		}
	}

	// Over the guard: the preview and --apply stop alike.
	r := keywarden(t, env, dir, "run", "--config", guarded, "--apply", "--dry-run", "--format", "json")
	want := "account 123456789012: 3 actions planned, more than enforce.max_actions_per_run (2): nothing is changed in this account; " +
		"check the plan with keywarden run --apply --dry-run, then raise the limit if it is right"
	if r.code != 5 || !strings.Contains(r.stderr, want) {
		t.Fatalf("preview over the guard: exit %d\n%s\nwant exit 5 and %q", r.code, r.stderr, want)
	}
	guardPreview := outcomes(decodeRun(t, r))
	nothingWritten("the preview over the guard")

	// The preview.
	p.Reset()
	r = keywarden(t, env, dir, "run", "--apply", "--dry-run", "--format", "json")
	if r.code != 0 {
		t.Fatalf("run --apply --dry-run: exit %d\n%s", r.code, r.stderr)
	}
	preview := decodeRun(t, r)
	if preview.Mode != plan.ModeDryRun || !slices.Contains(preview.Notes, run.NotePreview) || preview.ActionsDone != 2 || preview.ActionsSkipped != 1 {
		t.Errorf("preview: mode %s, notes %q, %d would be done, %d skipped; want dry_run, the preview note, 2 and 1",
			preview.Mode, preview.Notes, preview.ActionsDone, preview.ActionsSkipped)
	}
	if p.Count("iam:GetAccessKeyLastUsed") < 2 {
		t.Errorf("the preview re-checked %d keys; want alice's and carol's", p.Count("iam:GetAccessKeyLastUsed"))
	}
	nothingWritten("the preview")
	for user, id := range map[string]string{"alice": ids["alice"][0], "carol": ids["carol"][0]} {
		if st := keyStatus(t, m, user); st[id] != "Active" {
			t.Errorf("%s's key after the preview: %v; want Active", user, st)
		}
	}

	// --apply over the guard, then --apply.
	r = keywarden(t, env, dir, "run", "--config", guarded, "--apply", "--format", "json")
	if r.code != 5 {
		t.Fatalf("--apply over the guard: exit %d\n%s", r.code, r.stderr)
	}
	if got := outcomes(decodeRun(t, r)); !slices.Equal(got, guardPreview) {
		t.Errorf("--apply over the guard:\n%s\nits preview:\n%s", strings.Join(got, "\n"), strings.Join(guardPreview, "\n"))
	}
	p.Reset()
	r = keywarden(t, env, dir, "run", "--apply", "--format", "json")
	if r.code != 0 {
		t.Fatalf("run --apply: exit %d\n%s", r.code, r.stderr)
	}
	applied := decodeRun(t, r)
	got, wantPreview := outcomes(applied), outcomes(preview)
	if !slices.Equal(got, wantPreview) {
		t.Errorf("--apply did:\n%s\nits preview said:\n%s", strings.Join(got, "\n"), strings.Join(wantPreview, "\n"))
	}
	if len(got) != 3 {
		t.Errorf("actions %q; want alice's and carol's disables and dave's skip", got)
	}
	var wantWrites = map[string]int{}
	for _, a := range preview.Plan.Actions {
		if a.Status == plan.ActionPlanned {
			wantWrites["UpdateAccessKey "+a.KeyID]++
		}
	}
	if w := iamWritesBy(p); !mapsEqual(w, wantWrites) {
		t.Errorf("--apply's IAM writes %v; want the preview's planned actions %v", w, wantWrites)
	}
}
