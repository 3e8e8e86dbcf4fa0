package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/testenv"
)

// rootConfig is the defaults, with owners mailed by their Email tag.
const rootConfig = `version: 1
notify:
  users: { email_tags: [Email] }
`

// rootFindings scans the default account (through the binary, against
// moto, with root set to r) and returns root's findings.
func rootFindings(t *testing.T, m *testenv.MotoServer, r testenv.Root) []policy.Finding {
	t.Helper()
	m.SetRoot(t, "", r)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keywarden.yaml"), []byte(rootConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	res := keywarden(t, m.Env(), dir, "scan", "--format", "json")
	if res.code != 0 {
		t.Fatalf("scan: exit %d\n%s", res.code, res.stderr)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("scan output: %v\n%s", err, res.stdout)
	}
	var out []policy.Finding
	for _, f := range rep.Findings {
		if f.User == inventory.RootUserName {
			out = append(out, f)
		}
	}
	return out
}

// rootRules is the rules of fs, sorted.
func rootRules(fs []policy.Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Rule)
	}
	slices.Sort(out)
	return out
}

// byRule is fs's finding of rule (the zero Finding when none).
func byRule(fs []policy.Finding, rule string) policy.Finding {
	for _, f := range fs {
		if f.Rule == rule {
			return f
		}
	}
	return policy.Finding{}
}

// checkRootFinding checks what every root finding is: notify, critical
// unless said, no recipients (only the admins are told), and controls.
func checkRootFinding(t *testing.T, f policy.Finding, severity string, controls ...string) {
	t.Helper()
	if f.Action != "notify" || f.Severity != severity || len(f.Recipients) != 0 {
		t.Errorf("%s: action %s, severity %s, recipients %v; want notify, %s, none", f.Rule, f.Action, f.Severity, f.Recipients, severity)
	}
	if controls == nil {
		controls = []string{}
	}
	if !slices.Equal(f.Controls, controls) {
		t.Errorf("%s: controls %v; want %v", f.Rule, f.Controls, controls)
	}
}

// TestRootDefaultNoFinding: the test server's default root (MFA, a
// password never used, no key, no certificate) gives no finding.
func TestRootDefaultNoFinding(t *testing.T) {
	m := testenv.Moto(t)
	if fs := rootFindings(t, m, testenv.Root{}); len(fs) != 0 {
		t.Errorf("root findings %v; want none", rootRules(fs))
	}
}

// TestRootRecentUse: CIS 1.7, root's password used 2 days ago is a (high)
// finding; 30 days ago (past the 7 of within) is none.
func TestRootRecentUse(t *testing.T) {
	m := testenv.Moto(t)
	fs := rootFindings(t, m, testenv.Root{PasswordUsed: testenv.Used(2)})
	if got := rootRules(fs); !slices.Equal(got, []string{"root_recent_use"}) {
		t.Fatalf("root findings %v; want root_recent_use", got)
	}
	f := fs[0]
	checkRootFinding(t, f, "high", "CIS 1.7") // the default severity of root_recent_use
	if f.Credential != policy.CredentialRoot || f.AgeDays != 2 || !strings.Contains(f.Reason, "console password was last used 2 days ago") {
		t.Errorf("root_recent_use: credential %s, age %d, reason %q; want root, 2, the password used 2 days ago", f.Credential, f.AgeDays, f.Reason)
	}
	if fs := rootFindings(t, m, testenv.Root{PasswordUsed: testenv.Used(30)}); len(fs) != 0 {
		t.Errorf("root used 30 days ago: findings %v; want none", rootRules(fs))
	}
}

// TestRootSigningCertificate: an active root certificate is a critical
// finding for the admins only, without a CIS control; an inactive one is
// none.
func TestRootSigningCertificate(t *testing.T) {
	m := testenv.Moto(t)
	fs := rootFindings(t, m, testenv.Root{Cert1: testenv.RootActive, CertAgeDays: 40})
	if got := rootRules(fs); !slices.Equal(got, []string{"root_signing_certificate"}) {
		t.Fatalf("root findings %v; want root_signing_certificate", got)
	}
	f := fs[0]
	checkRootFinding(t, f, "critical")
	if f.Credential != policy.CredentialRoot || f.Slot != 1 || f.AgeDays != 40 || !strings.Contains(f.Reason, "active signing certificate in slot 1") {
		t.Errorf("root_signing_certificate: credential %s, slot %d, age %d, reason %q; want root, 1, 40", f.Credential, f.Slot, f.AgeDays, f.Reason)
	}
	if fs := rootFindings(t, m, testenv.Root{Cert1: testenv.RootInactive, CertAgeDays: 40}); len(fs) != 0 {
		t.Errorf("an inactive root certificate: findings %v; want none", rootRules(fs))
	}
}

// TestRootMFAMissing: root without MFA, with its password, is a critical
// mfa_missing (notify) of CIS 1.5 and 1.6, for the admins only.
func TestRootMFAMissing(t *testing.T) {
	m := testenv.Moto(t)
	fs := rootFindings(t, m, testenv.Root{NoMFA: true})
	if got := rootRules(fs); !slices.Equal(got, []string{"mfa_missing"}) {
		t.Fatalf("root findings %v; want mfa_missing", got)
	}
	checkRootFinding(t, fs[0], "critical", "CIS 1.5", "CIS 1.6")
	if !strings.Contains(fs[0].Reason, "root user has a console password without MFA") {
		t.Errorf("mfa_missing reason %q; want root's console password without MFA", fs[0].Reason)
	}
}

// TestRootAccessKey: an active root key is root_access_key (CIS 1.4),
// critical, in its slot; used 40 days ago, it is not a recent use.
func TestRootAccessKey(t *testing.T) {
	m := testenv.Moto(t)
	fs := rootFindings(t, m, testenv.Root{Key1: testenv.RootActive, KeyAgeDays: 100, KeyUsed: testenv.Used(40)})
	if got := rootRules(fs); !slices.Equal(got, []string{"root_access_key"}) {
		t.Fatalf("root findings %v; want root_access_key", got)
	}
	f := fs[0]
	checkRootFinding(t, f, "critical", "CIS 1.4")
	if f.Slot != 1 || f.AgeDays != 100 || !strings.Contains(f.Reason, "root user has an active access key in slot 1, created 100 days ago") {
		t.Errorf("root_access_key: slot %d, age %d, reason %q; want slot 1, 100 days", f.Slot, f.AgeDays, f.Reason)
	}
}

// TestRootPasswordRemoved: root whose credentials were removed
// (password_enabled false) and that has no MFA but an active key: the
// findings are the key's, and none claims a console password.
func TestRootPasswordRemoved(t *testing.T) {
	m := testenv.Moto(t)
	fs := rootFindings(t, m, testenv.Root{PasswordRemoved: true, NoMFA: true, Key1: testenv.RootActive, KeyAgeDays: 10})
	if got := rootRules(fs); !slices.Equal(got, []string{"mfa_missing", "root_access_key"}) {
		t.Fatalf("root findings %v; want mfa_missing, root_access_key", got)
	}
	for _, f := range fs {
		if strings.Contains(f.Reason, "password") {
			t.Errorf("%s reason %q claims a password; root's was removed", f.Rule, f.Reason)
		}
	}
	if f := byRule(fs, "mfa_missing"); !strings.Contains(f.Reason, "root user has no MFA device and holds an active access key (slot 1)") {
		t.Errorf("mfa_missing reason %q; want no MFA and the active key", f.Reason)
	}
	// Nothing at all: no password, no key, no MFA needed.
	if fs := rootFindings(t, m, testenv.Root{PasswordRemoved: true, NoMFA: true}); len(fs) != 0 {
		t.Errorf("root without credentials: findings %v; want none", rootRules(fs))
	}
}

// TestRootSummaryOverridesReport: the account summary (read live) wins
// over a credential report that is older: a root key the summary reports
// and the report does not show is a finding saying so; a key the report
// shows and the summary no longer has is none.
func TestRootSummaryOverridesReport(t *testing.T) {
	m := testenv.Moto(t)
	fs := rootFindings(t, m, testenv.Root{Key1: testenv.RootActive, SummaryOnly: true})
	if got := rootRules(fs); !slices.Equal(got, []string{"root_access_key"}) {
		t.Fatalf("root findings %v; want root_access_key", got)
	}
	checkRootFinding(t, fs[0], "critical", "CIS 1.4")
	if fs[0].Slot != 0 || !strings.Contains(fs[0].Reason, "the account summary reports a root access key that the credential report of ") {
		t.Errorf("root_access_key: slot %d, reason %q; want slot 0, saying the summary reports a key the report does not show", fs[0].Slot, fs[0].Reason)
	}

	// The report shows an active key and MFA; the summary, since, neither.
	m.SetRoot(t, "", testenv.Root{Key1: testenv.RootActive, KeyAgeDays: 10})
	fs = rootFindings(t, m, testenv.Root{NoMFA: true, SummaryOnly: true})
	if got := rootRules(fs); !slices.Equal(got, []string{"mfa_missing"}) {
		t.Fatalf("root findings %v; want mfa_missing only (the summary has no key)", got)
	}
	if !strings.Contains(fs[0].Reason, "the account summary reports no MFA device where the credential report of ") {
		t.Errorf("mfa_missing reason %q; want it to say the summary reports no MFA device", fs[0].Reason)
	}
}

// TestRunNeverActsOnRoot: a run with --apply, where root has every
// finding (an old active key and certificate, no MFA, its password used
// yesterday) and a user has a key past its disable stage: the user's key
// is disabled, root is only told to the admins: the digest lists root's
// findings, no owner message names root, and no action is planned on it.
func TestRunNeverActsOnRoot(t *testing.T) {
	m := testenv.Moto(t)
	dir, ids := enforceSetup(t, m, withFresh(keyUser("alice", 85)), enforceConfig)
	m.SetRoot(t, "", testenv.Root{NoMFA: true, PasswordUsed: testenv.Used(1),
		Key1: testenv.RootActive, KeyAgeDays: 400, KeyUsed: testenv.Used(30), Cert1: testenv.RootActive, CertAgeDays: 400})
	r := keywarden(t, m.Env(), dir, "run", "--apply", "--format", "json")
	if r.code != 0 {
		t.Fatalf("run --apply: exit %d\n%s", r.code, r.stderr)
	}
	res := decodeRun(t, r)
	var acted []string
	for _, a := range res.Plan.Actions {
		acted = append(acted, a.User+" "+a.KeyID)
		if a.User == inventory.RootUserName {
			t.Errorf("planned action on root: %+v", a)
		}
	}
	if want := []string{"alice " + ids["alice"][0]}; !slices.Equal(acted, want) {
		t.Errorf("planned actions %v; want %v (alice's 85-day key only)", acted, want)
	}
	if res.ActionsDone != 1 {
		t.Errorf("actions done %d; want 1 (alice's key)", res.ActionsDone)
	}
	for _, msg := range res.Plan.Messages {
		for _, it := range msg.Items {
			if it.User == inventory.RootUserName {
				t.Errorf("owner message to %s lists root's %s", msg.To, it.Rule)
			}
		}
	}
	if len(res.Plan.Digests) != 1 {
		t.Fatalf("%d digests; want 1", len(res.Plan.Digests))
	}
	var rootRulesListed []string
	for _, it := range res.Plan.Digests[0].Findings {
		if it.User == inventory.RootUserName {
			rootRulesListed = append(rootRulesListed, it.Rule)
		}
	}
	slices.Sort(rootRulesListed)
	want := []string{"mfa_missing", "root_access_key", "root_recent_use", "root_signing_certificate"}
	if !slices.Equal(rootRulesListed, want) {
		t.Errorf("digest lists root's %v; want %v", rootRulesListed, want)
	}
	digests := outboxMail(t, dir, "digest")
	if len(digests) != 1 || !strings.Contains(digests[0].Text, "root user has an active signing certificate in slot 1") ||
		!strings.Contains(digests[0].Text, "root user has an active access key in slot 1") {
		t.Errorf("%d digest mails; want one naming root's key and certificate", len(digests))
	}
}
