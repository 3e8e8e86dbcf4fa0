package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/run"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/testenv"
)

// kindsConfig stages signing certificates and service-specific credentials
// as the default policy stages a human's access keys.
const kindsConfig = `version: 1
rules:
  signing_certificate_age: { human: [ {at: 70, action: notify}, {at: 80, action: disable}, {at: 90, action: delete} ] }
  service_credential_age: { human: [ {at: 70, action: notify}, {at: 80, action: disable}, {at: 90, action: delete} ] }
notify:
  users: { email_tags: [Email], allowed_domains: [example.com], via: outbox }
  admins: { emails: [sec@example.com] }
  outbox: { dir: OUTBOX }
enforce:
  allowed_accounts: ["123456789012"]
  grace_after_disable: 14
  max_fraction: 1
  audit_file: AUDIT
state: { url: "sqlite://STATE" }
`

// credWrites counts the proxy's IAM writes (Update…, Delete…) by
// "operation ID".
func credWrites(p *testenv.Proxy) map[string]int {
	out := map[string]int{}
	for _, op := range p.Ops() {
		if op.Service != "iam" || !strings.HasPrefix(op.Operation, "Update") && !strings.HasPrefix(op.Operation, "Delete") {
			continue
		}
		id := cmpOr(op.Params.Get("CertificateId"), cmpOr(op.Params.Get("ServiceSpecificCredentialId"), op.Params.Get("AccessKeyId")))
		out[op.Operation+" "+id]++
	}
	return out
}

// credStatus is the status in moto of a signing certificate (cert) or a
// service-specific credential of user, "deleted" when it is gone.
func credStatus(t *testing.T, m *testenv.MotoServer, user, id string, cert bool) string {
	t.Helper()
	c := iam.NewFromConfig(m.Config(t))
	ctx := context.Background()
	if cert {
		out, err := c.ListSigningCertificates(ctx, &iam.ListSigningCertificatesInput{UserName: aws.String(user)})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range out.Certificates {
			if aws.ToString(x.CertificateId) == id {
				return string(x.Status)
			}
		}
		return state.KeyDeleted
	}
	out, err := c.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range out.ServiceSpecificCredentials {
		if aws.ToString(x.ServiceSpecificCredentialId) == id {
			return string(x.Status)
		}
	}
	return state.KeyDeleted
}

// TestEnforceCertificatesAndServiceCredentials: a signing certificate, a
// CodeCommit credential and a Bedrock API key uploaded or created 65 days
// ago, runs on later days with --apply. At 80 days all three are disabled
// (each re-checked first), their owners told by name; undo re-enables the
// API key. At 90 days the certificate and the CodeCommit credential wait
// out the 14-day grace period and the re-enabled API key, active at its
// delete stage, is disabled first; at 94 days the two are deleted, the API
// key still waits.
func TestEnforceCertificatesAndServiceCredentials(t *testing.T) {
	m := testenv.Moto(t)
	user := func(name string) testenv.SeedUser {
		return testenv.SeedUser{Name: name, Tags: map[string]string{"Email": name + "@example.com"}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1}
	}
	alice, bob, carol := user("alice"), user("bob"), user("carol")
	alice.Certs = []testenv.SeedCert{{AgeDays: 65}}
	bob.ServiceCredentials = []testenv.SeedServiceCredential{{Service: "codecommit.amazonaws.com", AgeDays: 65}}
	carol.ServiceCredentials = []testenv.SeedServiceCredential{{Service: "bedrock.amazonaws.com", AgeDays: 65}}
	seeded := m.SeedAll(t, []testenv.SeedUser{alice, bob, carol})
	cert, codecommit, apiKey := seeded.Certs["alice"][0], seeded.ServiceCredentials["bob"][0], seeded.ServiceCredentials["carol"][0]
	dir, _ := enforceSetup(t, m, nil, kindsConfig)
	p := m.NewProxy(t)
	env := p.Env(m)
	// A day more than the ages say: a service credential created "65 days
	// ago" is a few seconds short of 80 days old 15 days after now.
	now := clock(time.Now().UTC().AddDate(0, 0, 1))
	day := now.day
	runAt := func(offset int) run.Result {
		t.Helper()
		r := keywarden(t, env, dir, "run", "--format", "json", "--apply", "--force-as-of", "--as-of", now.at(offset))
		if r.code != 0 {
			t.Fatalf("run at +%d: exit %d\n%s", offset, r.code, r.stderr)
		}
		return decodeRun(t, r)
	}
	states := func() string {
		return fmt.Sprintf("certificate %s, CodeCommit credential %s, API key %s", credStatus(t, m, "alice", cert, true),
			credStatus(t, m, "bob", codecommit, false), credStatus(t, m, "carol", apiKey, false))
	}
	byID := func(res run.Result) map[string]plan.Action {
		out := map[string]plan.Action{}
		for _, a := range res.Plan.Actions {
			out[a.KeyID] = a
		}
		return out
	}

	// Day 80: the three are disabled, each after a re-read of its user's.
	res := runAt(15)
	if got, want := states(), "certificate Inactive, CodeCommit credential Inactive, API key Inactive"; got != want {
		t.Fatalf("day 80: %s; want %s", got, want)
	}
	if w := credWrites(p); !mapsEqual(w, map[string]int{"UpdateSigningCertificate " + cert: 1, "UpdateServiceSpecificCredential " + codecommit: 1,
		"UpdateServiceSpecificCredential " + apiKey: 1}) {
		t.Errorf("IAM writes at day 80 = %v; want one disable of each", w)
	}
	rechecks := 0
	for _, op := range p.Ops() {
		if op.Name() == "iam:ListServiceSpecificCredentials" && op.Params.Get("UserName") != "" {
			rechecks++
		}
	}
	if rechecks < 2 || p.Count("iam:ListSigningCertificates") < 2 {
		t.Errorf("re-checks: %d ListServiceSpecificCredentials of a user, %d ListSigningCertificates; want each credential re-read before its write",
			rechecks, p.Count("iam:ListSigningCertificates"))
	}
	for name, want := range map[string][]string{
		"alice": {"signing certificate 1 (ID " + cert + ")", "It was disabled on " + day(15) + " by keywarden (action "},
		"bob":   {"CodeCommit credential " + codecommit, "It was disabled on " + day(15) + " by keywarden (action "},
	} {
		mail := outboxMail(t, dir, name)
		if len(mail) == 0 {
			t.Fatalf("%s was not mailed", name)
		}
		for _, w := range want {
			if !strings.Contains(mail[len(mail)-1].Text, w) {
				t.Errorf("%s's mail after the disable:\n%s\nwant it to say %q", name, mail[len(mail)-1].Text, w)
			}
		}
	}
	undo := byID(res)[apiKey].ID
	if a := byID(res)[apiKey]; a.Status != plan.ActionDone || a.Credential != "service_credential" || undo == "" {
		t.Fatalf("the API key's action at day 80: %+v; want a done disable of a service credential", a)
	}

	// Undo the API key's disable.
	if r := keywarden(t, env, dir, "undo", undo); r.code != 0 {
		t.Fatalf("undo %s: exit %d\n%s", undo, r.code, r.stderr)
	}
	if got := credStatus(t, m, "carol", apiKey, false); got != state.KeyActive {
		t.Fatalf("API key after undo: %s; want Active", got)
	}

	// Day 90: the two wait (10 of 14 days); the API key is disabled first.
	p.Reset()
	res = runAt(25)
	got := byID(res)
	for _, id := range []string{cert, codecommit} {
		want := fmt.Sprintf("inactive since %s (10 of the 14 days of enforce.grace_after_disable): it will be deleted on %s", day(15), day(29))
		if a := got[id]; a.Status != plan.ActionSkipped || a.Reason != want {
			t.Errorf("%s at day 90: %s %q; want skipped: %s", id, a.Status, a.Reason, want)
		}
	}
	if a := got[apiKey]; a.Status != plan.ActionDone || a.Done != "disable" || a.Kind != "delete" {
		t.Errorf("the re-enabled API key at day 90: %s %s done=%q; want its delete stage to disable it first", a.Status, a.Kind, a.Done)
	}
	if w := credWrites(p); !mapsEqual(w, map[string]int{"UpdateServiceSpecificCredential " + apiKey: 1}) {
		t.Errorf("IAM writes at day 90 = %v; want only the API key's disable", w)
	}

	// Day 94: past the grace period, the two are deleted.
	p.Reset()
	res = runAt(29)
	if got, want := states(), "certificate deleted, CodeCommit credential deleted, API key Inactive"; got != want {
		t.Errorf("day 94: %s; want %s", got, want)
	}
	if w := credWrites(p); !mapsEqual(w, map[string]int{"DeleteSigningCertificate " + cert: 1, "DeleteServiceSpecificCredential " + codecommit: 1}) {
		t.Errorf("IAM writes at day 94 = %v; want the two deletes", w)
	}
	if a := byID(res)[apiKey]; a.Status != plan.ActionSkipped || !strings.HasPrefix(a.Reason, "inactive since "+day(25)+" (4 of the 14 days") {
		t.Errorf("the API key at day 94: %s %q; want waiting since day 90", a.Status, a.Reason)
	}
	// A deleted credential's disable cannot be undone.
	var del string
	for _, r := range history(t, env, dir, "--status", "done") {
		if r.KeyID == codecommit && r.Kind == state.KindDelete {
			del = r.ID
		}
	}
	if r := keywarden(t, env, dir, "undo", del); r.code != 1 || !strings.Contains(r.stderr, "a deleted credential cannot be restored") {
		t.Errorf("undo of the delete %s: exit %d\n%s\nwant 1, saying it cannot be restored", del, r.code, r.stderr)
	}
}
