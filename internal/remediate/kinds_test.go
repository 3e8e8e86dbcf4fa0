package remediate_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/remediate"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/state/memstore"
)

// fakeCred is a signing certificate or a service-specific credential in
// the fake account.
type fakeCred struct {
	user, id, service string
	created           time.Time
	status            types.StatusType
}

func find(creds []*fakeCred, id string) *fakeCred {
	for _, c := range creds {
		if c.id == id {
			return c
		}
	}
	return nil
}

func (f *fakeIAM) ListSigningCertificates(_ context.Context, in *iam.ListSigningCertificatesInput, _ ...func(*iam.Options)) (*iam.ListSigningCertificatesOutput, error) {
	if err := f.call("ListSigningCertificates", aws.ToString(in.UserName)); err != nil {
		return nil, err
	}
	out := &iam.ListSigningCertificatesOutput{}
	for _, c := range f.certs {
		if c.user == aws.ToString(in.UserName) {
			out.Certificates = append(out.Certificates, types.SigningCertificate{UserName: aws.String(c.user), CertificateId: aws.String(c.id),
				UploadDate: aws.Time(c.created), Status: c.status, CertificateBody: aws.String("-----BEGIN CERTIFICATE-----")})
		}
	}
	return out, nil
}

// ListServiceSpecificCredentials answers one credential a page, so that
// the re-check must follow Marker.
func (f *fakeIAM) ListServiceSpecificCredentials(_ context.Context, in *iam.ListServiceSpecificCredentialsInput, _ ...func(*iam.Options)) (*iam.ListServiceSpecificCredentialsOutput, error) {
	if err := f.call("ListServiceSpecificCredentials", aws.ToString(in.UserName), aws.ToString(in.Marker)); err != nil {
		return nil, err
	}
	if aws.ToBool(in.AllUsers) || aws.ToString(in.UserName) == "" {
		return nil, errors.New("the re-check lists one user's credentials")
	}
	var mine []*fakeCred
	for _, c := range f.svcs {
		if c.user == aws.ToString(in.UserName) {
			mine = append(mine, c)
		}
	}
	i := 0
	if m := aws.ToString(in.Marker); m != "" {
		fmt.Sscan(m, &i)
	}
	out := &iam.ListServiceSpecificCredentialsOutput{}
	if i < len(mine) {
		c := mine[i]
		out.ServiceSpecificCredentials = []types.ServiceSpecificCredentialMetadata{{UserName: aws.String(c.user), ServiceName: aws.String(c.service),
			ServiceSpecificCredentialId: aws.String(c.id), CreateDate: aws.Time(c.created), Status: c.status}}
	}
	if i+1 < len(mine) {
		out.IsTruncated, out.Marker = true, aws.String(fmt.Sprint(i+1))
	}
	return out, nil
}

func (f *fakeIAM) UpdateSigningCertificate(_ context.Context, in *iam.UpdateSigningCertificateInput, _ ...func(*iam.Options)) (*iam.UpdateSigningCertificateOutput, error) {
	if err := f.call("UpdateSigningCertificate", aws.ToString(in.CertificateId), string(in.Status)); err != nil {
		return nil, err
	}
	find(f.certs, aws.ToString(in.CertificateId)).status = in.Status
	return &iam.UpdateSigningCertificateOutput{}, nil
}

func (f *fakeIAM) DeleteSigningCertificate(_ context.Context, in *iam.DeleteSigningCertificateInput, _ ...func(*iam.Options)) (*iam.DeleteSigningCertificateOutput, error) {
	if err := f.call("DeleteSigningCertificate", aws.ToString(in.CertificateId)); err != nil {
		return nil, err
	}
	f.certs = without(f.certs, aws.ToString(in.CertificateId))
	return &iam.DeleteSigningCertificateOutput{}, nil
}

func (f *fakeIAM) UpdateServiceSpecificCredential(_ context.Context, in *iam.UpdateServiceSpecificCredentialInput, _ ...func(*iam.Options)) (*iam.UpdateServiceSpecificCredentialOutput, error) {
	if err := f.call("UpdateServiceSpecificCredential", aws.ToString(in.ServiceSpecificCredentialId), string(in.Status)); err != nil {
		return nil, err
	}
	find(f.svcs, aws.ToString(in.ServiceSpecificCredentialId)).status = in.Status
	return &iam.UpdateServiceSpecificCredentialOutput{}, nil
}

func (f *fakeIAM) DeleteServiceSpecificCredential(_ context.Context, in *iam.DeleteServiceSpecificCredentialInput, _ ...func(*iam.Options)) (*iam.DeleteServiceSpecificCredentialOutput, error) {
	if err := f.call("DeleteServiceSpecificCredential", aws.ToString(in.ServiceSpecificCredentialId)); err != nil {
		return nil, err
	}
	f.svcs = without(f.svcs, aws.ToString(in.ServiceSpecificCredentialId))
	return &iam.DeleteServiceSpecificCredentialOutput{}, nil
}

func without(creds []*fakeCred, id string) []*fakeCred {
	var out []*fakeCred
	for _, c := range creds {
		if c.id != id {
			out = append(out, c)
		}
	}
	return out
}

// credAction is a planned action of rule on a certificate or service
// credential.
func credAction(credential, kind, user, id string, created time.Time, active bool) plan.Action {
	a := keyAction(kind, user, id, created, active)
	a.Credential = credential
	switch credential {
	case policy.CredentialSigningCert:
		a.Rule = config.RuleSigningCertAge
	case policy.CredentialServiceCredential:
		a.Rule, a.Slot = config.RuleServiceCredentialAge, 0
	}
	return a
}

func TestExecuteCertificatesAndServiceCredentials(t *testing.T) {
	const cert, svc = policy.CredentialSigningCert, policy.CredentialServiceCredential
	active, inactive, expired := types.StatusTypeActive, types.StatusTypeInactive, types.StatusTypeExpired
	tests := []struct {
		name       string
		certs      []*fakeCred
		svcs       []*fakeCred
		inactive   string // the store's inactive day for the credential, if any
		action     plan.Action
		want       string
		wantWrites []string
		wantSince  string
	}{
		{"disable an active certificate", []*fakeCred{{user: "alice", id: "ASC1", created: daysAgo(85), status: active}}, nil, "",
			credAction(cert, "disable", "alice", "ASC1", daysAgo(85), true),
			"ASC1 done Active→Inactive: disabled: the certificate reached its 80-day disable stage",
			[]string{"UpdateSigningCertificate ASC1 Inactive"}, "2026-11-23"},
		{"certificate already inactive", []*fakeCred{{user: "alice", id: "ASC1", created: daysAgo(85), status: inactive}}, nil, "",
			credAction(cert, "disable", "alice", "ASC1", daysAgo(85), true),
			"ASC1 skipped Inactive→Inactive: the certificate is already inactive; nothing was changed", nil, ""},
		{"certificate gone", nil, nil, "", credAction(cert, "disable", "alice", "ASC1", daysAgo(85), true),
			"ASC1 skipped not found→not found: the certificate no longer exists (replaced or deleted since the credential report); nothing was changed", nil, ""},
		{"certificate of another upload date", []*fakeCred{{user: "alice", id: "ASC1", created: daysAgo(3), status: active}}, nil, "",
			credAction(cert, "disable", "alice", "ASC1", daysAgo(85), true),
			"ASC1 skipped Active→Active: the certificate was uploaded 2026-11-20T09:00:00Z, not 2026-08-30T09:00:00Z as in the credential report: it was replaced since; nothing was changed",
			nil, ""},
		{"certificate at its delete stage, active: disabled first", []*fakeCred{{user: "alice", id: "ASC1", created: daysAgo(95), status: active}}, nil, "",
			credAction(cert, "delete", "alice", "ASC1", daysAgo(95), true),
			"ASC1 done Active→Inactive: disabled: the certificate reached its 90-day delete stage while active, so it is disabled first and deleted once inactive for 10 days (on 2026-12-03)",
			[]string{"UpdateSigningCertificate ASC1 Inactive"}, "2026-11-23"},
		{"certificate re-enabled since the plan saw it inactive: disabled, not deleted", []*fakeCred{{user: "alice", id: "ASC1", created: daysAgo(95), status: active}}, nil, "2026-11-01",
			credAction(cert, "delete", "alice", "ASC1", daysAgo(95), false),
			"ASC1 done Active→Inactive: disabled: the certificate reached its 90-day delete stage while active, so it is disabled first and deleted once inactive for 10 days (on 2026-12-03)",
			[]string{"UpdateSigningCertificate ASC1 Inactive"}, "2026-11-23"},
		{"certificate inside the grace period", []*fakeCred{{user: "alice", id: "ASC1", created: daysAgo(95), status: inactive}}, nil, "2026-11-14",
			credAction(cert, "delete", "alice", "ASC1", daysAgo(95), false),
			"ASC1 skipped Inactive→Inactive: inactive since 2026-11-14 (9 of the 10 days of enforce.grace_after_disable): it will be deleted on 2026-11-24",
			nil, "2026-11-14"},
		{"certificate past the grace period", []*fakeCred{{user: "alice", id: "ASC1", created: daysAgo(95), status: inactive}}, nil, "2026-11-13",
			credAction(cert, "delete", "alice", "ASC1", daysAgo(95), false),
			"ASC1 done Inactive→deleted: deleted: inactive since 2026-11-13, past the 10 days of enforce.grace_after_disable",
			[]string{"DeleteSigningCertificate ASC1"}, ""},
		{"disable an active service credential (its second page)", nil, []*fakeCred{
			{user: "alice", id: "ACCA0", service: "codecommit.amazonaws.com", created: daysAgo(85), status: active},
			{user: "alice", id: "ASC1", service: "bedrock.amazonaws.com", created: daysAgo(85), status: active}}, "",
			credAction(svc, "disable", "alice", "ASC1", daysAgo(85), true),
			"ASC1 done Active→Inactive: disabled: the credential reached its 80-day disable stage",
			[]string{"UpdateServiceSpecificCredential ASC1 Inactive"}, "2026-11-23"},
		{"service credential expired: not disabled", nil, []*fakeCred{{user: "alice", id: "ASC1", service: "bedrock.amazonaws.com", created: daysAgo(85), status: expired}}, "",
			credAction(svc, "disable", "alice", "ASC1", daysAgo(85), true),
			"ASC1 skipped Expired→Expired: the credential is already expired; nothing was changed", nil, ""},
		{"service credential recreated", nil, []*fakeCred{{user: "alice", id: "ASC1", service: "codecommit.amazonaws.com", created: daysAgo(1), status: active}}, "",
			credAction(svc, "disable", "alice", "ASC1", daysAgo(85), true),
			"ASC1 skipped Active→Active: the credential was created 2026-11-22T09:00:00Z, not 2026-08-30T09:00:00Z as in the scan: it was replaced since; nothing was changed", nil, ""},
		{"expired service credential, first seen at its delete stage: waits", nil, []*fakeCred{{user: "alice", id: "ASC1", service: "bedrock.amazonaws.com", created: daysAgo(95), status: expired}}, "",
			credAction(svc, "delete", "alice", "ASC1", daysAgo(95), false),
			"ASC1 skipped Expired→Expired: inactive since 2026-11-23 (0 of the 10 days of enforce.grace_after_disable): it will be deleted on 2026-12-03",
			nil, "2026-11-23"},
		{"service credential past the grace period", nil, []*fakeCred{{user: "alice", id: "ASC1", service: "codecommit.amazonaws.com", created: daysAgo(95), status: inactive}}, "2026-11-10",
			credAction(svc, "delete", "alice", "ASC1", daysAgo(95), false),
			"ASC1 done Inactive→deleted: deleted: inactive since 2026-11-10, past the 10 days of enforce.grace_after_disable",
			[]string{"DeleteServiceSpecificCredential ASC1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			executeOne(t, &fakeIAM{certs: tt.certs, svcs: tt.svcs}, state.KeyRef{Account: acct, User: "alice", KeyID: "ASC1"}, tt.inactive, tt.action,
				tt.want, tt.wantWrites, tt.wantSince)
		})
	}
}

// TestExecuteConfirmsCertificateWrites: a write that answers an error is
// settled from a re-read of the credential.
func TestExecuteConfirmsCertificateWrites(t *testing.T) {
	t.Run("not made", func(t *testing.T) {
		f := &fakeIAM{certs: []*fakeCred{{user: "alice", id: "ASC1", created: daysAgo(85), status: types.StatusTypeActive}},
			fail: map[string]error{"UpdateSigningCertificate": errors.New("ServiceFailure")}}
		got := executor(f, memstore.New()).Execute(context.Background(), []plan.Action{credAction(policy.CredentialSigningCert, "disable", "alice", "ASC1", daysAgo(85), true)})
		want := "ASC1 failed Active→Active: disable signing certificate ASC1 of alice in account 123456789012: ServiceFailure (a re-read shows the certificate Active: not made)"
		if s := outcome(got[0]); s != want {
			t.Errorf("got  %s\nwant %s", s, want)
		}
	})
	t.Run("made", func(t *testing.T) {
		f := &fakeIAM{svcs: []*fakeCred{{user: "alice", id: "ACCA1", created: daysAgo(85), status: types.StatusTypeActive}}}
		c := &madeButFailed{fakeIAM: f}
		e := executor(f, memstore.New())
		e.Clients = func(context.Context, string) (remediate.IAM, error) { return c, nil }
		got := e.Execute(context.Background(), []plan.Action{credAction(policy.CredentialServiceCredential, "disable", "alice", "ACCA1", daysAgo(85), true)})
		want := "ACCA1 done Active→Inactive: disabled: the credential reached its 80-day disable stage (the call answered an error, but a re-read shows the credential Inactive)"
		if s := outcome(got[0]); s != want {
			t.Errorf("got  %s\nwant %s", s, want)
		}
	})
}

// madeButFailed makes the change, then answers an error (a lost answer).
type madeButFailed struct{ *fakeIAM }

func (m *madeButFailed) UpdateServiceSpecificCredential(ctx context.Context, in *iam.UpdateServiceSpecificCredentialInput, o ...func(*iam.Options)) (*iam.UpdateServiceSpecificCredentialOutput, error) {
	if _, err := m.fakeIAM.UpdateServiceSpecificCredential(ctx, in, o...); err != nil {
		return nil, err
	}
	return nil, errors.New("connection reset")
}

// recordPlanned records recs as planned: a killed run's.
func recordPlanned(t *testing.T, store state.Store, recs ...state.Action) {
	t.Helper()
	for _, r := range recs {
		r.Status = state.ActionPlanned
		if err := store.RecordAction(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReconcileCertificatesAndServiceCredentials(t *testing.T) {
	f := &fakeIAM{
		certs: []*fakeCred{{user: "alice", id: "ASC1", created: daysAgo(85), status: types.StatusTypeInactive}},
		svcs:  []*fakeCred{{user: "bob", id: "ACCA2", created: daysAgo(85), status: types.StatusTypeActive}},
	}
	store := memstore.New()
	old := asOf.Add(-2 * time.Hour)
	recordPlanned(t, store,
		state.Action{ID: "run-0.1", Run: "run-0", Account: acct, User: "alice", Credential: policy.CredentialSigningCert, KeyID: "ASC1", Kind: "disable", Before: "Active", At: old},
		state.Action{ID: "run-0.2", Run: "run-0", Account: acct, User: "bob", Credential: policy.CredentialServiceCredential, KeyID: "ACCA2", Kind: "disable", Before: "Active", At: old},
		state.Action{ID: "run-0.3", Run: "run-0", Account: acct, User: "carol", Credential: policy.CredentialServiceCredential, KeyID: "ACCA3", Kind: "delete", Before: "Inactive", At: old},
	)
	got, err := executor(f, store).Reconcile(context.Background(), []string{acct}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var summary []string
	for _, a := range got {
		summary = append(summary, fmt.Sprintf("%s %s %s: %s", a.ID, a.Status, a.Title, a.After))
	}
	slices.Sort(summary)
	want := []string{"run-0.1 done signing certificate ASC1: Inactive", "run-0.2 failed service-specific credential ACCA2: Active",
		"run-0.3 done service-specific credential ACCA3: deleted"}
	if diff := cmp.Diff(want, summary); diff != "" {
		t.Errorf("Reconcile() (-want +got):\n%s", diff)
	}
	if since, _ := store.InactiveSince(context.Background(), state.KeyRef{Account: acct, User: "alice", KeyID: "ASC1"}); since != "2026-11-23" {
		t.Errorf("ASC1 inactive since %q; want the killed run's day", since)
	}
	if len(f.writes()) != 0 {
		t.Errorf("Reconcile wrote to IAM: %v", f.writes())
	}
}

func TestUndoCertificatesAndServiceCredentials(t *testing.T) {
	f := &fakeIAM{
		certs: []*fakeCred{{user: "alice", id: "ASC1", created: daysAgo(85), status: types.StatusTypeInactive}},
		svcs: []*fakeCred{{user: "bob", id: "ACCA2", created: daysAgo(85), status: types.StatusTypeInactive},
			{user: "dave", id: "ACCA4", created: daysAgo(85), status: types.StatusTypeExpired}},
	}
	store := memstore.New()
	for _, r := range []state.Action{
		{ID: "r.1", Account: acct, User: "alice", Credential: policy.CredentialSigningCert, KeyID: "ASC1", Kind: "disable", Status: state.ActionDone, At: asOf},
		{ID: "r.2", Account: acct, User: "bob", Credential: policy.CredentialServiceCredential, KeyID: "ACCA2", Kind: "disable", Status: state.ActionDone, At: asOf},
		{ID: "r.3", Account: acct, User: "carol", Credential: policy.CredentialSigningCert, KeyID: "ASC3", Kind: "delete", Status: state.ActionDone, At: asOf},
		{ID: "r.4", Account: acct, User: "dave", Credential: policy.CredentialServiceCredential, KeyID: "ACCA4", Kind: "disable", Status: state.ActionDone, At: asOf},
		{ID: "r.5", Account: acct, User: "erin", Credential: policy.CredentialServiceCredential, KeyID: "ACCA5", Kind: "delete", Status: state.ActionDone, At: asOf},
	} {
		if err := store.RecordAction(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	_ = store.RecordInactive(context.Background(), state.KeyRef{Account: acct, User: "alice", KeyID: "ASC1"}, "2026-11-20", true)
	e := executor(f, store)
	e.RunID = "undo-1"
	got, err := e.Undo(context.Background(), []string{"r.1", "r.2", "r.3", "r.4", "r.5"})
	var summary []string
	for _, u := range got {
		summary = append(summary, fmt.Sprintf("%s undo of %s: %s %s→%s: %s", u.ID, u.UndoOf, u.Status, u.Before, u.After, u.Reason))
	}
	want := []string{"undo-1.1 undo of r.1: done Inactive→Active: re-enabled: undo of r.1", "undo-1.2 undo of r.2: done Inactive→Active: re-enabled: undo of r.2"}
	if diff := cmp.Diff(want, summary); diff != "" {
		t.Errorf("Undo() (-want +got):\n%s", diff)
	}
	for _, msg := range []string{
		"action r.3: cannot be undone: it deleted signing certificate ASC3 of carol, and a deleted certificate cannot be restored; the owner uploads a new one (aws iam upload-signing-certificate --user-name carol --certificate-body file://certificate.pem)",
		"action r.4: cannot be undone: service-specific credential ACCA4 of dave is Expired, which re-enabling cannot change",
		"action r.5: cannot be undone: it deleted service-specific credential ACCA5 of erin, and a deleted credential cannot be restored; the owner creates a new one (aws iam create-service-specific-credential --user-name erin --service-name SERVICE)",
	} {
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("Undo() error = %v; want it to say %q", err, msg)
		}
	}
	if diff := cmp.Diff([]string{"UpdateSigningCertificate ASC1 Active", "UpdateServiceSpecificCredential ACCA2 Active"}, f.writes()); diff != "" {
		t.Errorf("IAM writes (-want +got):\n%s", diff)
	}
	if since, _ := store.InactiveSince(context.Background(), state.KeyRef{Account: acct, User: "alice", KeyID: "ASC1"}); since != "" {
		t.Errorf("re-enabled certificate still inactive since %q", since)
	}
}

// TestServiceCredentialRecheckRepeatedMarker: a re-check that IAM answers
// with a marker it answered before fails at once, instead of listing until
// the run's deadline while the action holds its credential's lock; the
// action is recorded failed, so the lock is released.
func TestServiceCredentialRecheckRepeatedMarker(t *testing.T) {
	for _, markers := range [][]string{{"again"}, {"a", "b"}} {
		t.Run(strings.Join(markers, ","), func(t *testing.T) {
			f := &fakeIAM{svcs: []*fakeCred{{user: "alice", id: "ACCA1", created: daysAgo(85), status: types.StatusTypeActive}}}
			c := &cyclingMarkers{fakeIAM: f, markers: markers}
			store := memstore.New()
			e := executor(f, store)
			e.Clients = func(context.Context, string) (remediate.IAM, error) { return c, nil }
			got := e.Execute(context.Background(), []plan.Action{credAction(policy.CredentialServiceCredential, "disable", "alice", "ACCA1", daysAgo(85), true)})[0]
			want := fmt.Sprintf("re-check the service-specific credentials of alice (page %d): IAM answered the same marker again", len(markers)+1)
			if got.Status != plan.ActionFailed || got.Reason != want {
				t.Errorf("Execute() = %s: %s; want failed: %s", got.Status, got.Reason, want)
			}
			if c.calls != len(markers)+1 {
				t.Errorf("%d ListServiceSpecificCredentials calls; want %d (one per distinct marker)", c.calls, len(markers)+1)
			}
			planned, err := store.Actions(context.Background(), state.ActionFilter{Status: state.ActionPlanned})
			if err != nil || len(planned) != 0 {
				t.Errorf("planned records after the failure: %v, %v; want none (the lock released)", planned, err)
			}
			if len(f.writes()) != 0 {
				t.Errorf("IAM writes: %v; want none", f.writes())
			}
		})
	}
}

// cyclingMarkers answers every ListServiceSpecificCredentials with no
// credential and the next of markers, round and round; after 100 calls it
// answers an error, so that a re-check that never stops fails the test
// instead of hanging it.
type cyclingMarkers struct {
	*fakeIAM
	markers []string
	calls   int
}

func (c *cyclingMarkers) ListServiceSpecificCredentials(_ context.Context, in *iam.ListServiceSpecificCredentialsInput, _ ...func(*iam.Options)) (*iam.ListServiceSpecificCredentialsOutput, error) {
	c.calls++
	if c.calls > 100 {
		return nil, errors.New("still listing after 100 pages")
	}
	return &iam.ListServiceSpecificCredentialsOutput{IsTruncated: true, Marker: aws.String(c.markers[(c.calls-1)%len(c.markers)])}, nil
}

// expiresOnWrite is IAM expiring the credential while keywarden changes
// it: UpdateServiceSpecificCredential finds it Expired and answers an
// error.
type expiresOnWrite struct{ *fakeIAM }

func (x *expiresOnWrite) UpdateServiceSpecificCredential(_ context.Context, in *iam.UpdateServiceSpecificCredentialInput, _ ...func(*iam.Options)) (*iam.UpdateServiceSpecificCredentialOutput, error) {
	find(x.svcs, aws.ToString(in.ServiceSpecificCredentialId)).status = types.StatusTypeExpired
	return nil, errors.New("ServiceFailure")
}

// TestExecuteServiceCredentialExpiredMeanwhile: a disable (or the disable
// a delete of an active credential starts with) that answers an error
// while the credential expires is no disable keywarden made: the re-read
// shows it Expired, not Inactive, so the action is skipped, Active→Expired,
// and no inactive-since day is recorded.
func TestExecuteServiceCredentialExpiredMeanwhile(t *testing.T) {
	for _, kind := range []string{config.ActionDisable, config.ActionDelete} {
		t.Run(kind, func(t *testing.T) {
			f := &fakeIAM{svcs: []*fakeCred{{user: "alice", id: "ACCA1", service: "bedrock.amazonaws.com", created: daysAgo(95), status: types.StatusTypeActive}}}
			store := memstore.New()
			e := executor(f, store)
			e.Clients = func(context.Context, string) (remediate.IAM, error) { return &expiresOnWrite{f}, nil }
			got := e.Execute(context.Background(), []plan.Action{credAction(policy.CredentialServiceCredential, kind, "alice", "ACCA1", daysAgo(95), true)})[0]
			want := "ACCA1 skipped Active→Expired: the credential expired meanwhile: the disable answered an error and a re-read shows it Expired, not Inactive; " +
				"nothing was changed (disable service-specific credential ACCA1 of alice in account 123456789012: ServiceFailure)"
			if s := outcome(got); s != want || got.Done != "" || got.DeleteOn != "" {
				t.Errorf("got  %s (done %q, delete on %q)\nwant %s", s, got.Done, got.DeleteOn, want)
			}
			recs, err := store.Actions(context.Background(), state.ActionFilter{})
			if err != nil || len(recs) != 1 || recs[0].Status != state.ActionSkipped || recs[0].After != "Expired" || recs[0].Kind != kind {
				t.Errorf("records %+v, %v; want the %s skipped, after Expired", recs, err, kind)
			}
			if since, _ := store.InactiveSince(context.Background(), state.KeyRef{Account: acct, User: "alice", KeyID: "ACCA1"}); since != "" {
				t.Errorf("inactive since %q; want none recorded (keywarden disabled nothing)", since)
			}
		})
	}
}

// TestReconcileServiceCredentialExpiredMeanwhile: records a killed run left
// planned on credentials IAM has since expired are closed as skipped,
// never as a disable (or re-enable) made, and start no grace period: the
// delete stage counts it from the first run that sees the credential
// expired, not from the killed run's day.
func TestReconcileServiceCredentialExpiredMeanwhile(t *testing.T) {
	expired := types.StatusTypeExpired
	f := &fakeIAM{svcs: []*fakeCred{
		{user: "alice", id: "ACCA1", service: "bedrock.amazonaws.com", created: daysAgo(95), status: expired},
		{user: "bob", id: "ACCA2", service: "bedrock.amazonaws.com", created: daysAgo(95), status: expired},
		{user: "carol", id: "ACCA3", service: "bedrock.amazonaws.com", created: daysAgo(95), status: expired},
	}}
	store := memstore.New()
	old := asOf.AddDate(0, 0, -5)
	recordPlanned(t, store,
		state.Action{ID: "run-0.1", Run: "run-0", Account: acct, User: "alice", Credential: policy.CredentialServiceCredential, KeyID: "ACCA1", Kind: "disable", Before: "Active", At: old},
		state.Action{ID: "run-0.2", Run: "run-0", Account: acct, User: "bob", Credential: policy.CredentialServiceCredential, KeyID: "ACCA2", Kind: "delete", Before: "Active", At: old},
		state.Action{ID: "run-0.3", Run: "run-0", Account: acct, User: "carol", Credential: policy.CredentialServiceCredential, KeyID: "ACCA3", Kind: "enable", Before: "Inactive", At: old},
	)
	e := executor(f, store)
	e.RunID = "run-1"
	got, err := e.Reconcile(context.Background(), []string{acct}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var summary []string
	for _, a := range got {
		summary = append(summary, fmt.Sprintf("%s %s done=%q %s→%s: %s", a.ID, a.Status, a.Done, a.Before, a.After, a.Reason))
	}
	slices.Sort(summary)
	want := []string{
		`run-0.1 skipped done="" Active→Expired: not made by run run-0: the credential expired meanwhile (run run-1 finds it Expired, not Inactive); nothing was changed`,
		`run-0.2 skipped done="" Active→Expired: not made by run run-0: the credential expired meanwhile (run run-1 finds it Expired, not Inactive); nothing was changed`,
		`run-0.3 skipped done="" Inactive→Expired: not made by run run-0: the credential expired meanwhile (run run-1 finds it Expired, not Active); nothing was changed`,
	}
	if diff := cmp.Diff(want, summary); diff != "" {
		t.Errorf("Reconcile() (-want +got):\n%s", diff)
	}
	for _, c := range f.svcs {
		user, id := c.user, c.id
		if since, _ := store.InactiveSince(context.Background(), state.KeyRef{Account: acct, User: user, KeyID: id}); since != "" {
			t.Errorf("%s inactive since %q after Reconcile; want none recorded", id, since)
		}
	}

	// The delete stage, first seeing ACCA2 expired today, waits the whole
	// grace period from today.
	next := e.Execute(context.Background(), []plan.Action{credAction(policy.CredentialServiceCredential, "delete", "bob", "ACCA2", daysAgo(95), false)})[0]
	if wantNext := "ACCA2 skipped Expired→Expired: inactive since 2026-11-23 (0 of the 10 days of enforce.grace_after_disable): it will be deleted on 2026-12-03"; outcome(next) != wantNext {
		t.Errorf("delete stage after Reconcile:\ngot  %s\nwant %s", outcome(next), wantNext)
	}
	if len(f.writes()) != 0 {
		t.Errorf("IAM writes: %v; want none", f.writes())
	}
}

// TestUndoServiceCredentialExpiredMeanwhile: an undo whose re-enable
// answers an error while the credential expires claims no re-enable: it is
// skipped, Inactive→Expired, and cannot be undone.
func TestUndoServiceCredentialExpiredMeanwhile(t *testing.T) {
	f := &fakeIAM{svcs: []*fakeCred{{user: "bob", id: "ACCA2", service: "bedrock.amazonaws.com", created: daysAgo(85), status: types.StatusTypeInactive}}}
	store := memstore.New()
	ref := state.KeyRef{Account: acct, User: "bob", KeyID: "ACCA2"}
	if err := store.RecordAction(context.Background(), state.Action{ID: "r.1", Account: acct, User: "bob", Credential: policy.CredentialServiceCredential,
		KeyID: "ACCA2", Kind: "disable", Status: state.ActionDone, After: "Inactive", At: asOf}); err != nil {
		t.Fatal(err)
	}
	if err := store.RecordInactive(context.Background(), ref, "2026-11-20", true); err != nil {
		t.Fatal(err)
	}
	e := executor(f, store)
	e.RunID = "undo-1"
	e.Clients = func(context.Context, string) (remediate.IAM, error) { return &expiresOnWrite{f}, nil }
	got, err := e.Undo(context.Background(), []string{"r.1"})
	if len(got) != 0 || !errors.Is(err, remediate.ErrCannotUndo) ||
		!strings.Contains(err.Error(), "service-specific credential ACCA2 of bob expired meanwhile (Expired), which re-enabling cannot change") {
		t.Errorf("Undo() = %+v, %v; want nothing re-enabled and ErrCannotUndo, expired meanwhile", got, err)
	}
	recs, _ := store.Actions(context.Background(), state.ActionFilter{})
	var undo *state.Action
	for i := range recs {
		if recs[i].UndoOf == "r.1" {
			undo = &recs[i]
		}
	}
	want := "the credential expired meanwhile: the re-enable answered an error and a re-read shows it Expired; nothing was changed " +
		"(re-enable service-specific credential ACCA2 of bob in account 123456789012: ServiceFailure)"
	if undo == nil || undo.Status != state.ActionSkipped || undo.Before != "Inactive" || undo.After != "Expired" || undo.Reason != want {
		t.Errorf("undo record %+v; want skipped Inactive→Expired: %s", undo, want)
	}
	if since, _ := store.InactiveSince(context.Background(), ref); since != "2026-11-20" {
		t.Errorf("inactive since %q; want 2026-11-20 kept (nothing re-enabled)", since)
	}
}
