package remediate_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/testenv"
)

// uploadCert uploads a signing certificate for user straight to moto and
// returns its ID and upload date.
func (e *truthEnv) uploadCert(t *testing.T, user string) (string, time.Time) {
	t.Helper()
	out, err := iam.NewFromConfig(e.m.Config(t)).UploadSigningCertificate(context.Background(), &iam.UploadSigningCertificateInput{
		UserName: aws.String(user), CertificateBody: aws.String(testenv.SelfSignedCertificate(t, user))})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.Certificate.CertificateId), aws.ToTime(out.Certificate.UploadDate)
}

// certState is the certificate's status in moto, "deleted" when it is
// gone.
func (e *truthEnv) certState(t *testing.T, user, id string) string {
	t.Helper()
	out, err := iam.NewFromConfig(e.m.Config(t)).ListSigningCertificates(context.Background(), &iam.ListSigningCertificatesInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range out.Certificates {
		if aws.ToString(c.CertificateId) == id {
			return string(c.Status)
		}
	}
	return state.KeyDeleted
}

func certAction(kind, user, id string, uploaded time.Time, active bool) plan.Action {
	a := keyAction(kind, user, id, uploaded, active)
	a.Credential, a.Rule, a.Title = policy.CredentialSigningCert, config.RuleSigningCertAge, "signing certificate 1 (ID "+id+")"
	return a
}

func noKeyUser(name string) testenv.SeedUser {
	return testenv.SeedUser{Name: name, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1}
}

// TestSigningCertificateLifecycle: against moto, a signing certificate at
// its delete stage is re-checked (another upload date: left alone),
// disabled first, left inactive through the grace period, then deleted —
// a delete whose answer is lost is confirmed from a re-read.
func TestSigningCertificateLifecycle(t *testing.T) {
	e := newTruthEnv(t, noKeyUser("alice"))
	id, uploaded := e.uploadCert(t, "alice")
	ctx := context.Background()

	stale := e.executor("run-0").Execute(ctx, []plan.Action{certAction(config.ActionDelete, "alice", id, uploaded.AddDate(0, 0, -3), true)})[0]
	if stale.Status != plan.ActionSkipped || !strings.Contains(stale.Reason, "as in the credential report: it was replaced since; nothing was changed") {
		t.Errorf("another upload date: %s: %s; want skipped", stale.Status, stale.Reason)
	}
	if n := e.p.Count("iam:UpdateSigningCertificate") + e.p.Count("iam:DeleteSigningCertificate"); n != 0 {
		t.Errorf("%d writes after a failed re-check; want none", n)
	}

	first := e.executor("run-1").Execute(ctx, []plan.Action{certAction(config.ActionDelete, "alice", id, uploaded, true)})[0]
	if first.Status != plan.ActionDone || first.Done != config.ActionDisable || first.Before != state.KeyActive || first.After != state.KeyInactive {
		t.Errorf("run-1: %s done=%s %s→%s: %s; want disabled first", first.Status, first.Done, first.Before, first.After, first.Reason)
	}
	if st := e.certState(t, "alice", id); st != state.KeyInactive {
		t.Fatalf("certificate in moto after run-1: %s; want Inactive", st)
	}
	if since := e.inactiveSince(t, "alice", id); since != state.Day(e.now) {
		t.Errorf("inactive since %q; want %s", since, state.Day(e.now))
	}

	waiting := e.executor("run-2")
	waiting.AsOf = e.now.AddDate(0, 0, 5)
	second := waiting.Execute(ctx, []plan.Action{certAction(config.ActionDelete, "alice", id, uploaded, false)})[0]
	if second.Status != plan.ActionSkipped || second.DeleteOn != state.Day(e.now.AddDate(0, 0, 10)) {
		t.Errorf("run-2, inside the grace period: %s (delete on %q): %s", second.Status, second.DeleteOn, second.Reason)
	}
	if st := e.certState(t, "alice", id); st != state.KeyInactive {
		t.Fatalf("certificate in moto after run-2: %s; want Inactive", st)
	}

	e.p.Inject(testenv.Fault{Match: testenv.IsOp("iam:DeleteSigningCertificate"), AfterForward: true, Drop: true})
	last := e.executor("run-3")
	last.AsOf = e.now.AddDate(0, 0, 10)
	third := last.Execute(ctx, []plan.Action{certAction(config.ActionDelete, "alice", id, uploaded, false)})[0]
	if third.Status != plan.ActionDone || third.Done != config.ActionDelete || third.After != state.KeyDeleted {
		t.Errorf("run-3, past the grace period: %s done=%s →%s: %s; want deleted", third.Status, third.Done, third.After, third.Reason)
	}
	if st := e.certState(t, "alice", id); st != state.KeyDeleted {
		t.Errorf("certificate in moto after run-3: %s; want deleted", st)
	}
	if since := e.inactiveSince(t, "alice", id); since != "" {
		t.Errorf("inactive since %q after the delete; want forgotten", since)
	}
}

// TestSigningCertificateDisableConfirmedAndUndone: every attempt of the
// disable reaches moto and answers 503: the re-read shows it made (done);
// undo re-enables the certificate.
func TestSigningCertificateDisableConfirmedAndUndone(t *testing.T) {
	e := newTruthEnv(t, noKeyUser("alice"))
	id, uploaded := e.uploadCert(t, "alice")
	ctx := context.Background()
	e.p.Inject(testenv.Fault{Match: testenv.IsOp("iam:UpdateSigningCertificate"), Times: 3, AfterForward: true, Code: "ServiceUnavailable", Status: 503})
	got := e.executor("run-1").Execute(ctx, []plan.Action{certAction(config.ActionDisable, "alice", id, uploaded, true)})[0]
	if got.Status != plan.ActionDone || !strings.HasSuffix(got.Reason, "(the call answered an error, but a re-read shows the certificate Inactive)") {
		t.Fatalf("Execute() = %s: %s; want done, confirmed by the re-read", got.Status, got.Reason)
	}
	if st := e.certState(t, "alice", id); st != state.KeyInactive {
		t.Fatalf("certificate in moto: %s; want Inactive", st)
	}
	undone, err := e.executor("undo-1").Undo(ctx, []string{"run-1.1"})
	if err != nil || len(undone) != 1 || undone[0].Status != state.ActionDone || undone[0].UndoOf != "run-1.1" {
		t.Fatalf("Undo() = %+v, %v; want the certificate re-enabled", undone, err)
	}
	if st := e.certState(t, "alice", id); st != state.KeyActive {
		t.Errorf("certificate in moto after undo: %s; want Active", st)
	}
	if since := e.inactiveSince(t, "alice", id); since != "" {
		t.Errorf("inactive since %q after undo; want forgotten", since)
	}
}

// createServiceCred creates a service-specific credential for user
// straight in moto (the test server's implementation of the API) and
// returns its ID and creation date.
func (e *truthEnv) createServiceCred(t *testing.T, user, service string) (string, time.Time) {
	t.Helper()
	out, err := iam.NewFromConfig(e.m.Config(t)).CreateServiceSpecificCredential(context.Background(), &iam.CreateServiceSpecificCredentialInput{
		UserName: aws.String(user), ServiceName: aws.String(service)})
	if err != nil {
		t.Fatal(err)
	}
	c := out.ServiceSpecificCredential
	return aws.ToString(c.ServiceSpecificCredentialId), aws.ToTime(c.CreateDate)
}

// serviceCredState is the credential's status in moto, "deleted" when it
// is gone.
func (e *truthEnv) serviceCredState(t *testing.T, user, id string) string {
	t.Helper()
	out, err := iam.NewFromConfig(e.m.Config(t)).ListServiceSpecificCredentials(context.Background(), &iam.ListServiceSpecificCredentialsInput{UserName: aws.String(user)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range out.ServiceSpecificCredentials {
		if aws.ToString(c.ServiceSpecificCredentialId) == id {
			return string(c.Status)
		}
	}
	return state.KeyDeleted
}

func serviceCredAction(kind, user, id, service string, created time.Time, active bool) plan.Action {
	a := keyAction(kind, user, id, created, active)
	a.Credential, a.Rule, a.Slot, a.Title = policy.CredentialServiceCredential, config.RuleServiceCredentialAge, 0, policy.ServiceCredentialName(service)+" "+id
	return a
}

// TestServiceCredentialLifecycle: against the test server's
// service-specific credentials, a CodeCommit credential at its delete
// stage — one of the user's three — is re-checked (another creation date:
// left alone), disabled first (the answer lost: confirmed from a re-read),
// left inactive through the grace period, deleted, and the user's other
// credentials are untouched; a disabled Bedrock API key is re-enabled by
// undo, and a deleted credential cannot be.
func TestServiceCredentialLifecycle(t *testing.T) {
	e := newTruthEnv(t, noKeyUser("alice"))
	const codecommit, bedrock = "codecommit.amazonaws.com", "bedrock.amazonaws.com"
	other, _ := e.createServiceCred(t, "alice", codecommit)
	id, created := e.createServiceCred(t, "alice", codecommit)
	apiKey, apiKeyCreated := e.createServiceCred(t, "alice", bedrock)
	ctx := context.Background()

	stale := e.executor("run-0").Execute(ctx, []plan.Action{serviceCredAction(config.ActionDelete, "alice", id, codecommit, created.AddDate(0, 0, -1), true)})[0]
	if stale.Status != plan.ActionSkipped || !strings.Contains(stale.Reason, "as in the scan: it was replaced since; nothing was changed") {
		t.Errorf("another creation date: %s: %s; want skipped", stale.Status, stale.Reason)
	}

	e.p.Inject(testenv.Fault{Match: testenv.IsOp("iam:UpdateServiceSpecificCredential"), Times: 1, AfterForward: true, Drop: true})
	first := e.executor("run-1").Execute(ctx, []plan.Action{serviceCredAction(config.ActionDelete, "alice", id, codecommit, created, true)})[0]
	if first.Status != plan.ActionDone || first.Done != config.ActionDisable || first.Before != state.KeyActive {
		t.Errorf("run-1: %s done=%s %s→%s: %s; want disabled first", first.Status, first.Done, first.Before, first.After, first.Reason)
	}
	if st := e.serviceCredState(t, "alice", id); st != state.KeyInactive {
		t.Fatalf("credential in moto after run-1: %s; want Inactive", st)
	}

	waiting := e.executor("run-2")
	waiting.AsOf = e.now.AddDate(0, 0, 9)
	if got := waiting.Execute(ctx, []plan.Action{serviceCredAction(config.ActionDelete, "alice", id, codecommit, created, false)})[0]; got.Status != plan.ActionSkipped ||
		!strings.HasPrefix(got.Reason, "inactive since "+state.Day(e.now)+" (9 of the 10 days") {
		t.Errorf("run-2, inside the grace period: %s: %s", got.Status, got.Reason)
	}
	if st := e.serviceCredState(t, "alice", id); st != state.KeyInactive {
		t.Fatalf("credential in moto after run-2: %s; want Inactive", st)
	}

	last := e.executor("run-3")
	last.AsOf = e.now.AddDate(0, 0, 10)
	third := last.Execute(ctx, []plan.Action{serviceCredAction(config.ActionDelete, "alice", id, codecommit, created, false)})[0]
	if third.Status != plan.ActionDone || third.Done != config.ActionDelete {
		t.Errorf("run-3, past the grace period: %s done=%s: %s; want deleted", third.Status, third.Done, third.Reason)
	}
	for cred, want := range map[string]string{id: state.KeyDeleted, other: state.KeyActive, apiKey: state.KeyActive} {
		if st := e.serviceCredState(t, "alice", cred); st != want {
			t.Errorf("credential %s in moto after run-3: %s; want %s", cred, st, want)
		}
	}

	disabled := e.executor("run-4").Execute(ctx, []plan.Action{serviceCredAction(config.ActionDisable, "alice", apiKey, bedrock, apiKeyCreated, true)})[0]
	if disabled.Status != plan.ActionDone || e.serviceCredState(t, "alice", apiKey) != state.KeyInactive {
		t.Fatalf("run-4: %s: %s; want the API key disabled", disabled.Status, disabled.Reason)
	}
	undone, err := e.executor("undo-1").Undo(ctx, []string{"run-4.1", "run-3.1"})
	if len(undone) != 1 || undone[0].UndoOf != "run-4.1" || undone[0].Status != state.ActionDone {
		t.Errorf("Undo() = %+v; want run-4.1 undone", undone)
	}
	if err == nil || !strings.Contains(err.Error(), "action run-3.1: cannot be undone: it deleted service-specific credential "+id+" of alice") {
		t.Errorf("Undo() error = %v; want the delete refused", err)
	}
	if st := e.serviceCredState(t, "alice", apiKey); st != state.KeyActive {
		t.Errorf("API key in moto after undo: %s; want Active", st)
	}
}

// TestReconcileCertificateAndServiceCredential: a run killed between
// disabling a certificate (and deleting a service credential) and
// recording it left planned records; the next run reads each from moto
// and records them done, the certificate's inactive-since day kept.
func TestReconcileCertificateAndServiceCredential(t *testing.T) {
	e := newTruthEnv(t, noKeyUser("alice"))
	ctx := context.Background()
	cert, _ := e.uploadCert(t, "alice")
	cred, _ := e.createServiceCred(t, "alice", "cassandra.amazonaws.com")
	direct := iam.NewFromConfig(e.m.Config(t))
	if _, err := direct.UpdateSigningCertificate(ctx, &iam.UpdateSigningCertificateInput{UserName: aws.String("alice"), CertificateId: aws.String(cert),
		Status: "Inactive"}); err != nil {
		t.Fatal(err)
	}
	if _, err := direct.DeleteServiceSpecificCredential(ctx, &iam.DeleteServiceSpecificCredentialInput{UserName: aws.String("alice"),
		ServiceSpecificCredentialId: aws.String(cred)}); err != nil {
		t.Fatal(err)
	}
	killed := e.now.Add(-2 * time.Hour)
	for _, r := range []state.Action{
		{ID: "run-0.1", Run: "run-0", Account: acct, User: "alice", Credential: policy.CredentialSigningCert, KeyID: cert, Kind: state.KindDisable,
			Before: state.KeyActive, At: killed},
		{ID: "run-0.2", Run: "run-0", Account: acct, User: "alice", Credential: policy.CredentialServiceCredential, KeyID: cred, Kind: state.KindDelete,
			Before: state.KeyInactive, At: killed},
	} {
		r.Status = state.ActionPlanned
		if err := e.store.RecordAction(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	done, err := e.executor("run-1").Reconcile(ctx, []string{acct}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 2 {
		t.Fatalf("Reconcile() = %+v; want both records", done)
	}
	for _, id := range []string{"run-0.1", "run-0.2"} {
		if r := e.record(t, id); r.Status != state.ActionDone || !strings.HasPrefix(r.Reason, "made by run run-0, which stopped before recording it") {
			t.Errorf("%s = %s: %s; want done, made by run-0", id, r.Status, r.Reason)
		}
	}
	if since := e.inactiveSince(t, "alice", cert); since != state.Day(killed) {
		t.Errorf("certificate inactive since %q; want the killed run's day %s", since, state.Day(killed))
	}
}

// createExpiringAPIKey creates a Bedrock API key for user that expires a
// day after moto's clock, daysBack days in the past; moto's clock is left
// there.
func (e *truthEnv) createExpiringAPIKey(t *testing.T, user string, daysBack int) (string, time.Time) {
	t.Helper()
	e.m.SetClock(t, testenv.DaysAgo(daysBack))
	out, err := iam.NewFromConfig(e.m.Config(t)).CreateServiceSpecificCredential(context.Background(), &iam.CreateServiceSpecificCredentialInput{
		UserName: aws.String(user), ServiceName: aws.String("bedrock.amazonaws.com"), CredentialAgeDays: aws.Int32(1)})
	if err != nil {
		t.Fatal(err)
	}
	c := out.ServiceSpecificCredential
	return aws.ToString(c.ServiceSpecificCredentialId), aws.ToTime(c.CreateDate)
}

// TestServiceCredentialExpiredMeanwhile: against the test server, a Bedrock
// API key that expires while keywarden disables it (the disable answers
// 503 as moto's clock passes its expiration) is recorded skipped,
// Active→Expired — not a disable keywarden made — and starts no grace
// period; so is a killed run's planned disable of a key that has expired
// since, when the next run reconciles it. The delete stage then counts the
// grace period from the day it first sees the key expired.
func TestServiceCredentialExpiredMeanwhile(t *testing.T) {
	e := newTruthEnv(t, noKeyUser("alice"), noKeyUser("bob"))
	ctx := context.Background()
	killed, killedCreated := e.createExpiringAPIKey(t, "bob", 3)
	id, created := e.createExpiringAPIKey(t, "alice", 2) // the clock stays 2 days back: Active at the re-check

	e.p.Inject(testenv.Fault{Match: testenv.IsOp("iam:UpdateServiceSpecificCredential"), Code: "ServiceUnavailable", Status: 503,
		Before: func(testenv.Op) { e.m.SetClock(t, "+0") }})
	got := e.executor("run-1").Execute(ctx, []plan.Action{serviceCredAction(config.ActionDisable, "alice", id, "bedrock.amazonaws.com", created, true)})[0]
	if got.Status != plan.ActionSkipped || got.Done != "" || got.Before != state.KeyActive || got.After != "Expired" ||
		!strings.HasPrefix(got.Reason, "the credential expired meanwhile: the disable answered an error and a re-read shows it Expired, not Inactive; nothing was changed") {
		t.Errorf("Execute() = %s done=%q %s→%s: %s; want skipped, Active→Expired", got.Status, got.Done, got.Before, got.After, got.Reason)
	}
	if st := e.serviceCredState(t, "alice", id); st != "Expired" {
		t.Errorf("credential in moto: %s; want Expired", st)
	}

	if err := e.store.RecordAction(ctx, state.Action{ID: "run-0.1", Run: "run-0", Account: acct, User: "bob", Credential: policy.CredentialServiceCredential,
		KeyID: killed, Kind: state.KindDisable, Before: state.KeyActive, Status: state.ActionPlanned, At: e.now.AddDate(0, 0, -3)}); err != nil {
		t.Fatal(err)
	}
	reconciled, err := e.executor("run-2").Reconcile(ctx, []string{acct}, nil)
	if err != nil || len(reconciled) != 1 || reconciled[0].Status != plan.ActionSkipped || reconciled[0].Done != "" || reconciled[0].After != "Expired" {
		t.Fatalf("Reconcile() = %+v, %v; want run-0.1 skipped, Expired", reconciled, err)
	}

	for _, c := range []struct{ user, id string }{{"alice", id}, {"bob", killed}} {
		if since := e.inactiveSince(t, c.user, c.id); since != "" {
			t.Errorf("%s inactive since %q; want none recorded", c.id, since)
		}
	}
	next := e.executor("run-3").Execute(ctx, []plan.Action{serviceCredAction(config.ActionDelete, "bob", killed, "bedrock.amazonaws.com", killedCreated, false)})[0]
	if next.Status != plan.ActionSkipped || next.DeleteOn != state.Day(e.now.AddDate(0, 0, 10)) {
		t.Errorf("delete stage: %s (delete on %q): %s; want it to wait 10 days from today", next.Status, next.DeleteOn, next.Reason)
	}
}
