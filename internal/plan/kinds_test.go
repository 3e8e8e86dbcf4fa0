package plan_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
)

// certFinding is a signing_certificate_age finding of user's certificate
// slot at stage (80: disable, 90: delete).
func certFinding(user string, slot, stage int, active bool, to ...string) policy.Finding {
	f := keyFinding(user, slot, stage+1, to...)
	f.ID = fmt.Sprintf("%s-cert-%d", user, slot)
	f.Credential, f.Rule, f.KeyActive = policy.CredentialSigningCert, config.RuleSigningCertAge, active
	f.KeyID = fmt.Sprintf("ASC%sCERT%d", strings.ToUpper(user), slot)
	return f
}

// serviceFinding is a service_credential_age finding of one of user's
// service-specific credentials (no slot).
func serviceFinding(user, id, service string, stage int, active bool, to ...string) policy.Finding {
	f := keyFinding(user, 1, stage+1, to...)
	f.ID = user + "-" + id
	f.Credential, f.Rule, f.KeyActive, f.KeyID, f.Slot, f.Service = policy.CredentialServiceCredential, config.RuleServiceCredentialAge, active, id, 0, service
	return f
}

// TestBuildActsOnCertificatesAndServiceCredentials: signing certificates
// and service-specific credentials get actions as access keys do (an
// active one at its delete stage is disabled first, each credential its
// own action); SSH keys, users, accounts and root never do.
func TestBuildActsOnCertificatesAndServiceCredentials(t *testing.T) {
	ssh := keyFinding("dave", 1, 400, "d@example.com")
	ssh.ID, ssh.Credential, ssh.Rule, ssh.KeyID, ssh.Slot = "dave-ssh", policy.CredentialSSHKey, config.RuleSSHKeyAge, "APKADAVE", 0
	user := keyFinding("erin", 1, 95, "e@example.com")
	user.ID, user.Credential, user.Rule, user.KeyID, user.Slot = "erin-dormant", policy.CredentialUser, config.RuleDormantUser, "", 0
	account := user
	account.ID, account.User, account.Credential, account.Rule = "pw-policy", policy.AccountUser, policy.CredentialAccount, config.RulePasswordPolicy
	root := certFinding("<root_account>", 1, 90, true)
	root.Credential, root.Rule = policy.CredentialRoot, config.RuleRootSigningCert
	fs := []policy.Finding{
		certFinding("alice", 1, 80, true, "a@example.com"),
		serviceFinding("bob", "ACCABOB1", "codecommit.amazonaws.com", 90, true, "b@example.com"),
		serviceFinding("bob", "ACCABOB2", "bedrock.amazonaws.com", 90, false, "b@example.com"),
		ssh, user, account, root,
	}
	p := applying(enforcing(), fs, 0, func(in *plan.Input) { in.ActiveOther = map[string]int{acct: 100} })
	var got []string
	for _, a := range p.Actions {
		got = append(got, fmt.Sprintf("%s %s %s %s: %s", a.Credential, a.KeyID, a.Kind, a.Status, a.Title))
	}
	want := []string{
		"signing_certificate ASCALICECERT1 disable planned: signing certificate 1 (ID ASCALICECERT1)",
		"service_credential ACCABOB1 delete planned: CodeCommit credential ACCABOB1",
		"service_credential ACCABOB2 delete planned: Amazon Bedrock API key ACCABOB2",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("actions (-want +got):\n%s", diff)
	}
	if len(p.Actions) == 3 {
		if v := p.Actions[1].What(); v != "disable" {
			t.Errorf("an active service credential at its delete stage: %q; want disable (first)", v)
		}
		if v := p.Actions[2].What(); v != "delete" {
			t.Errorf("an inactive service credential at its delete stage: %q; want delete", v)
		}
	}
}

// TestBuildGuardCountsEveryActiveCredential: max_fraction counts the
// active access keys, signing certificates and service-specific
// credentials of an account as one pool.
func TestBuildGuardCountsEveryActiveCredential(t *testing.T) {
	fs := []policy.Finding{certFinding("alice", 1, 80, true), certFinding("bob", 1, 80, true), keyFinding("carol", 1, 85)}
	// 3 of 2 keys + 13 others = 15 (20%): allowed.
	p := applying(enforcing(), fs, 2, func(in *plan.Input) { in.ActiveOther = map[string]int{acct: 13} })
	if len(p.Guards) != 0 {
		t.Errorf("guards = %+v; want none (3 of 15 active credentials)", p.Guards)
	}
	// 3 of 2 keys + 8 others = 10 (30%): stopped, and said so.
	p = applying(enforcing(), fs, 2, func(in *plan.Input) { in.ActiveOther = map[string]int{acct: 8} })
	want := "account 123456789012: 3 of its 10 active credentials (access keys, signing certificates, service-specific credentials) (30%) would be " +
		"disabled or deleted, more than enforce.max_fraction (20%): nothing is changed in this account; check the plan with keywarden run --apply --dry-run, then raise the limit if it is right"
	if len(p.Guards) != 1 || p.Guards[0].Reason != want {
		t.Errorf("guards = %+v; want\n%s", p.Guards, want)
	}
	// An inactive certificate's deletion does not count.
	inactive := certFinding("dave", 1, 90, false)
	p = applying(enforcing(), []policy.Finding{inactive}, 0, func(in *plan.Input) { in.ActiveOther = map[string]int{acct: 1} })
	if len(p.Guards) != 0 || len(p.Actions) != 1 || p.Actions[0].Status != plan.ActionPlanned {
		t.Errorf("deleting an inactive certificate: guards %+v, actions %v; want planned, no guard", p.Guards, statuses(p))
	}
}

// TestBuildProtectsCertificatesByUserOnly: a certificate or a service
// credential is never keywarden's own (only access keys sign calls), and
// enforce.protect's key_ids name access keys; its users protect every
// credential of a user.
func TestBuildProtectsCertificatesByUserOnly(t *testing.T) {
	cfg := enforcing()
	cfg.Enforce.Protect = []config.Protect{{Users: []string{"break-glass-*"}}, {KeyIDs: []string{"ASCALICECERT1"}}}
	fs := []policy.Finding{certFinding("alice", 1, 80, true), serviceFinding("break-glass-1", "ACCABG1", "codecommit.amazonaws.com", 80, true)}
	p := applying(cfg, fs, 0, func(in *plan.Input) {
		in.ActiveOther = map[string]int{acct: 10}
		in.Self = map[string][]string{acct: {"ASCALICECERT1"}}
		in.SourceKeys = map[string]string{"ASCALICECERT1": "arn:aws:iam::123456789012:role/x"}
	})
	got := statuses(p)
	if want := []string{"ASCALICECERT1 disable planned", "ACCABG1 disable skipped"}; !cmp.Equal(got, want) {
		t.Fatalf("actions = %v; want %v", got, want)
	}
	if r := p.Actions[1].Reason; !strings.HasPrefix(r, `protected by enforce.protect[0] (user break-glass-1 matches "break-glass-*")`) {
		t.Errorf("reason = %q", r)
	}
}

// TestBuildTellsWhatWasDoneToACertificate: the owner reads the credential
// by its name, and what was done in the past tense.
func TestBuildTellsWhatWasDoneToACertificate(t *testing.T) {
	fs := []policy.Finding{certFinding("alice", 2, 90, true, "a@example.com"),
		serviceFinding("alice", "ACCAALICE1", "bedrock.amazonaws.com", 90, false, "a@example.com")}
	p := applying(enforcing(), fs, 0, func(in *plan.Input) { in.ActiveOther = map[string]int{acct: 10} })
	executed := append([]plan.Action(nil), p.Actions...)
	for i := range executed {
		a := &executed[i]
		a.Status = plan.ActionDone
		if a.Credential == policy.CredentialSigningCert {
			a.ID, a.Done = "r.1", config.ActionDisable // its delete stage, while active
		} else {
			a.ID, a.Done = "r.2", config.ActionDelete
		}
	}
	p = applying(enforcing(), fs, 0, func(in *plan.Input) { in.Executed = executed })
	if len(p.Messages) != 1 {
		t.Fatalf("messages = %+v; want one to alice", p.Messages)
	}
	var got []string
	for _, it := range p.Messages[0].Items {
		got = append(got, it.Title+": "+it.Next+" | "+strings.Join(it.Fix, " | "))
	}
	want := []string{
		"Amazon Bedrock API key ACCAALICE1: It is inactive and past the 90-day limit. It was deleted on 2026-11-23 by keywarden (action r.2). | " +
			"Nothing: the credential is gone. If you still need it, create a new one and use it where the old one is used: aws iam create-service-specific-credential --user-name alice --service-name bedrock.amazonaws.com",
		"signing certificate 2 (ID ASCALICECERT2): It is past the 90-day limit. It was disabled on 2026-11-23 by keywarden (action r.1). " +
			"An active certificate is disabled before it is deleted: the first keywarden run from 2026-12-03, after 10 days inactive, deletes it. | " +
			"If something still needs a signing certificate, upload a new one: aws iam upload-signing-certificate --user-name alice --certificate-body file://certificate.pem | " +
			"The old certificate is already inactive. When nothing broke, delete it: aws iam delete-signing-certificate --user-name alice --certificate-id ASCALICECERT2",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alice's items (-want +got):\n%s", diff)
	}
	if c := p.Messages[0].Changed(); c != "1 disabled, 1 deleted" {
		t.Errorf("Changed() = %q", c)
	}
	var lines []string
	for _, a := range p.Digests[0].Actions {
		lines = append(lines, a.Line())
	}
	wantLines := []string{
		"deleted Amazon Bedrock API key ACCAALICE1 of alice in 123456789012 on 2026-11-23 (service_credential_age, 90-day stage) [r.2]",
		"disabled signing certificate 2 (ID ASCALICECERT2) of alice in 123456789012 on 2026-11-23 (signing_certificate_age, 90-day stage) [r.1]",
	}
	if diff := cmp.Diff(wantLines, lines); diff != "" {
		t.Errorf("digest lines (-want +got):\n%s", diff)
	}
}

// TestBuildNeverMailsInfoFindings: an informational finding stays in the
// digest (and its counts), is never mailed to its owner, and an owner
// without an address is not listed for it.
func TestBuildNeverMailsInfoFindings(t *testing.T) {
	info := keyFinding("alice", 1, 10, "a@example.com")
	info.ID, info.Credential, info.Rule, info.Severity, info.Action, info.KeyID = "alice-console-and-keys", policy.CredentialUser, config.RuleConsoleAndKeys, config.SeverityInfo, config.ActionNotify, ""
	noAddr := info
	noAddr.ID, noAddr.User, noAddr.Recipients = "bob-console-and-keys", "bob", []string{}
	p := applying(enforcing(), []policy.Finding{info, noAddr}, 10)
	if len(p.Messages) != 0 {
		t.Errorf("messages = %+v; want none (info is never mailed to owners)", p.Messages)
	}
	if len(p.Undeliverable) != 0 {
		t.Errorf("undeliverable = %+v; want none", p.Undeliverable)
	}
	if len(p.Digests) != 1 || len(p.Digests[0].Findings) != 2 || p.Digests[0].Accounts[0].Findings != 2 {
		t.Fatalf("digests = %+v; want one listing and counting both findings", p.Digests)
	}
	// With a finding that is mailed, the info one is still left out.
	p = applying(enforcing(), []policy.Finding{info, keyFinding("alice", 1, 75, "a@example.com")}, 10)
	if len(p.Messages) != 1 || len(p.Messages[0].Items) != 1 || p.Messages[0].Items[0].Rule != config.RuleAccessKeyAge {
		t.Errorf("messages = %+v; want alice told of her key only", p.Messages)
	}
}

// TestBuildCertificateWaitsForNoticeWindowAndGuards: notice_before_action,
// the window and max_actions_per_run hold back an action on a certificate
// or a service credential as on a key.
func TestBuildCertificateWaitsForNoticeWindowAndGuards(t *testing.T) {
	const to = "a@example.com"
	fs := []policy.Finding{certFinding("alice", 1, 90, true, to)}
	other := func(in *plan.Input) { in.ActiveOther = map[string]int{acct: 10} }

	p := applying(noticeConfig(7), fs, 0, other)
	want := "its owner is told of the 90-day stage in this run, and enforce.notice_before_action gives 7 days' notice: the first run from 2026-11-30 acts"
	if a := p.Actions[0]; a.Status != plan.ActionWaiting || a.Reason != want || a.ActOn != "2026-11-30" {
		t.Errorf("notice: %s %q act_on %q; want waiting: %s", a.Status, a.Reason, a.ActOn, want)
	}
	if got, want := p.Messages[0].Items[0].Next, "It is past the 90-day limit. keywarden gives 7 days' notice before it changes a credential (enforce.notice_before_action): "+
		"a keywarden run may disable it (an active certificate is disabled before it is deleted) from 2026-11-30."; got != want {
		t.Errorf("alice's item says %q; want %q", got, want)
	}

	cfg := enforcing()
	cfg.Enforce.Window = &config.Window{Days: []string{"sat"}, Start: "09:00", End: "17:00", Timezone: "UTC"}
	if a := applying(cfg, fs, 0, other).Actions[0]; a.Status != plan.ActionWaiting || !strings.HasPrefix(a.Reason, "outside the action window") {
		t.Errorf("window: %s %q; want waiting outside the window", a.Status, a.Reason)
	}

	cfg = enforcing()
	cfg.Enforce.MaxActionsPerRun = 1
	two := append(fs, serviceFinding("bob", "ACCABOB1", "codecommit.amazonaws.com", 80, true, "b@example.com"))
	p = applying(cfg, two, 0, other)
	if len(p.Guards) != 1 || p.Actions[0].Status != plan.ActionBlocked || p.Actions[1].Status != plan.ActionBlocked {
		t.Errorf("max_actions_per_run 1, two actions: guards %+v, actions %v; want both blocked", p.Guards, statuses(p))
	}
}

// TestBuildAccountFindingIsTheAdmins: the account's own finding
// (password_policy) has no owner: it is in the digest, mailed to nobody
// else, and never listed as an owner keywarden cannot mail.
func TestBuildAccountFindingIsTheAdmins(t *testing.T) {
	acct := keyFinding(policy.AccountUser, 0, 0)
	acct.ID, acct.Credential, acct.Rule, acct.Severity, acct.Action, acct.KeyID, acct.Recipients =
		"account-password-policy", policy.CredentialAccount, config.RulePasswordPolicy, config.SeverityMedium, config.ActionNotify, "", []string{}
	p := applying(enforcing(), []policy.Finding{acct}, 10)
	if len(p.Messages) != 0 || len(p.Undeliverable) != 0 {
		t.Errorf("messages %+v, undeliverable %+v; want none: the account's finding is the admins'", p.Messages, p.Undeliverable)
	}
	if len(p.Digests) != 1 || len(p.Digests[0].Findings) != 1 || len(p.Digests[0].Undeliverable) != 0 {
		t.Fatalf("digests = %+v; want one listing the finding and no unmailable owner", p.Digests)
	}
}
