package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/testenv"
)

// orgE2E is an organization of five accounts (the management account and
// four members created through organizations:CreateAccount), each seeded
// through AssumeRole with one key 120 days old and one 10 days old, and a
// compliant password policy: the tests are about the accounts and their
// old keys, each account's one finding.
type orgE2E struct {
	m        *testenv.MotoServer
	accounts []string                       // all five, sorted
	members  []string                       // the four members, in creation order
	keys     map[string]map[string][]string // account → user → key IDs
}

func newOrgE2E(t *testing.T) *orgE2E {
	t.Helper()
	m := testenv.Moto(t)
	org := m.CreateOrganization(t, 4)
	e := &orgE2E{m: m, members: org.Members, keys: map[string]map[string][]string{}}
	for _, id := range append([]string{testenv.AccountID}, org.Members...) {
		cfg := m.Config(t)
		if id != testenv.AccountID {
			cfg = m.AssumeRoleConfig(t, "arn:aws:iam::"+id+":role/OrganizationAccountAccessRole")
		}
		e.keys[id] = m.SeedInto(t, cfg, []testenv.SeedUser{
			{Name: "old-" + id, Keys: []testenv.SeedKey{{AgeDays: 120, LastUsedDaysAgo: 2}}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1},
			{Name: "new-" + id, Keys: []testenv.SeedKey{{AgeDays: 10, LastUsedDaysAgo: 2}}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1},
		})
		m.CompliantPasswordPolicy(t, cfg)
		e.accounts = append(e.accounts, id)
	}
	slices.Sort(e.accounts)
	return e
}

func (e *orgE2E) configDir(t *testing.T, exclude string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := "version: 1\naccounts:\n  organization: { role_name: KeywardenAudit, exclude: [\"" + exclude + "\"] }\n  parallel: 3\n"
	if err := os.WriteFile(filepath.Join(dir, "keywarden.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func decodeReport(t *testing.T, r result) report.Report {
	t.Helper()
	var rep report.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return rep
}

// TestScanOrganizationEndToEnd: `keywarden scan` over an organization of
// five accounts, one excluded, reports each old key in its own account (with
// its key ID) and nothing from the excluded account; --account narrows it
// to one; a pipe gets no progress bar.
func TestScanOrganizationEndToEnd(t *testing.T) {
	e := newOrgE2E(t)
	excluded := e.members[3]
	dir := e.configDir(t, excluded)

	r := keywarden(t, e.m.Env(), dir, "scan", "--format", "json")
	if r.code != 0 {
		t.Fatalf("keywarden scan exit %d\nstderr: %s", r.code, r.stderr)
	}
	rep := decodeReport(t, r)
	want := slices.DeleteFunc(slices.Clone(e.accounts), func(id string) bool { return id == excluded })
	var got []string
	for _, a := range rep.Accounts {
		got = append(got, a.ID)
		// 6 + max(1, ceil(2/1000)) + F (one user's keys) + S (one page:
		// no service-specific credentials).
		if a.Status != report.StatusOK || a.Users != 2 || a.APICalls > 6+1+1+1 {
			t.Errorf("account %+v: want ok, 2 users, at most 9 API calls", a)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("accounts = %v; want %v (%s excluded)", got, want, excluded)
	}
	var found []string
	for _, f := range rep.Findings {
		found = append(found, f.Account+"/"+f.User)
		if f.Rule != "access_key_age" || f.KeyID != e.keys[f.Account][f.User][0] {
			t.Errorf("finding %s/%s %s key %s; want access_key_age for key %v", f.Account, f.User, f.Rule, f.KeyID, e.keys[f.Account][f.User])
		}
	}
	var wantFound []string
	for _, id := range want {
		wantFound = append(wantFound, id+"/old-"+id)
	}
	if !slices.Equal(found, wantFound) {
		t.Errorf("findings = %v; want %v", found, wantFound)
	}
	if strings.Contains(r.stderr, "\r") || strings.Contains(r.stderr, "users ·") {
		t.Errorf("stderr in a pipe has a progress bar: %q", r.stderr)
	}

	one := e.members[1]
	r = keywarden(t, e.m.Env(), dir, "scan", "--format", "json", "--account", one)
	if r.code != 0 {
		t.Fatalf("scan --account %s exit %d\nstderr: %s", one, r.code, r.stderr)
	}
	if rep := decodeReport(t, r); len(rep.Accounts) != 1 || rep.Accounts[0].ID != one || len(rep.Findings) != 1 || rep.Findings[0].User != "old-"+one {
		t.Errorf("scan --account %s: accounts %+v findings %+v; want that account and its old key only", one, rep.Accounts, rep.Findings)
	}
	r = keywarden(t, e.m.Env(), dir, "scan", "--account", excluded)
	if r.code != 1 || !strings.Contains(r.stderr, excluded) {
		t.Errorf("scan --account %s (excluded) = exit %d, stderr %q; want 1 and a message naming it", excluded, r.code, r.stderr)
	}
}

// TestScanFailingAccountEndToEnd: AssumeRole into one member is denied (by
// the fault proxy); that account is reported with status error and what
// to do, the others complete, and keywarden exits 4 with the report on
// stdout.
func TestScanFailingAccountEndToEnd(t *testing.T) {
	e := newOrgE2E(t)
	p := e.m.NewProxy(t)
	denied := e.members[0]
	p.Inject(testenv.Fault{Code: "AccessDenied", Status: http.StatusForbidden,
		Message: "User: arn:aws:iam::123456789012:user/scanner is not authorized to perform: sts:AssumeRole",
		Match: func(op testenv.Op) bool {
			return op.Name() == "sts:AssumeRole" && strings.Contains(op.Params.Get("RoleArn"), denied)
		}})
	dir := e.configDir(t, e.members[3])

	r := keywarden(t, p.Env(e.m), dir, "scan", "--format", "json")
	if r.code != 4 {
		t.Fatalf("exit %d; want 4 (some accounts failed)\nstderr: %s", r.code, r.stderr)
	}
	rep := decodeReport(t, r)
	ok := 0
	for _, a := range rep.Accounts {
		switch {
		case a.ID == denied:
			for _, s := range []string{"account " + denied, "AccessDenied", "deploy the role"} {
				if a.Status != report.StatusError || !strings.Contains(a.Error, s) {
					t.Errorf("denied account %+v: want status error and %q in the error", a, s)
				}
			}
		case a.Status == report.StatusOK:
			ok++
		default:
			t.Errorf("account %+v: want ok", a)
		}
	}
	if ok != 3 || len(rep.Findings) != 3 {
		t.Errorf("%d accounts ok with %d findings; want 3 and 3", ok, len(rep.Findings))
	}
	for _, f := range rep.Findings {
		if f.Account == denied {
			t.Errorf("finding %+v from the failed account", f)
		}
	}
	if !strings.Contains(r.stderr, "1 of 4 accounts could not be scanned") || !strings.Contains(r.stderr, denied) {
		t.Errorf("stderr = %q; want the failed count and the account named", r.stderr)
	}

	// keywarden run plans nothing for the failed account.
	r = keywarden(t, p.Env(e.m), dir, "run", "--dry-run", "--format", "json")
	if r.code != 4 {
		t.Fatalf("run --dry-run exit %d; want 4\nstderr: %s", r.code, r.stderr)
	}
	var res struct {
		Plan struct {
			Findings int               `json:"findings"`
			Messages []json.RawMessage `json:"messages"`
			Actions  []json.RawMessage `json:"actions"`
		} `json:"plan"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("run output: %v\n%s", err, r.stdout)
	}
	if res.Plan.Findings != 3 || len(res.Plan.Actions) != 3 {
		t.Errorf("plan: %d findings, %d actions; want 3 and 3 (the old keys of the accounts scanned)", res.Plan.Findings, len(res.Plan.Actions))
	}
	for _, raw := range append(res.Plan.Messages, res.Plan.Actions...) {
		if strings.Contains(string(raw), denied) {
			t.Errorf("plan entry %s is for the failed account %s", raw, denied)
		}
	}
}

// TestFailedAccountOutranksOtherErrors: an account fails (AssumeRole
// denied) and something else fails too — the Security Hub sync (Security
// Hub is not enabled: GetFindings answers InvalidAccessException), the
// report or run output cannot be written: the exit code is 4, as the
// documented precedence (4, 1, 5, 3) says, and stderr says both. scan,
// run and forecast alike.
func TestFailedAccountOutranksOtherErrors(t *testing.T) {
	e := newOrgE2E(t)
	p := e.m.NewProxy(t)
	denied := e.members[0]
	p.Inject(testenv.Fault{Code: "AccessDenied", Status: http.StatusForbidden, Message: "not authorized to perform: sts:AssumeRole",
		Match: func(op testenv.Op) bool {
			return op.Name() == "sts:AssumeRole" && strings.Contains(op.Params.Get("RoleArn"), denied)
		}})
	p.Inject(testenv.Fault{Code: "InvalidAccessException", Status: http.StatusUnauthorized,
		Message: "Account 123456789012 is not subscribed to AWS Security Hub", Match: testenv.IsOp("securityhub:GetFindings")})
	dir := e.configDir(t, e.members[3])
	unwritable := filepath.Join(t.TempDir(), "missing", "out.json")
	for _, tt := range []struct {
		args []string
		want string // the other failure, besides the failed account
	}{
		{[]string{"scan", "--security-hub"}, "security hub: list security hub findings of 123456789012"},
		{[]string{"scan", "--output", unwritable}, "write " + unwritable},
		{[]string{"run", "--dry-run", "--output", unwritable}, "write " + unwritable},
		{[]string{"forecast", "--output", unwritable}, "write " + unwritable},
	} {
		r := keywarden(t, p.Env(e.m), dir, tt.args...)
		if r.code != 4 || !strings.Contains(r.stderr, "1 of 4 accounts could not be scanned") || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("keywarden %v: exit %d\nstderr: %s\nwant exit 4, the failed account and %q", tt.args, r.code, r.stderr, tt.want)
		}
	}
	if n := p.Count("securityhub:GetFindings"); n == 0 {
		t.Error("scan --security-hub did not try to sync (no GetFindings)")
	}
}
