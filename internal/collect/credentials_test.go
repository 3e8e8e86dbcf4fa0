package collect

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/inventory"
)

func serviceCred(user, id, service string, created time.Time, expires *time.Time, status types.StatusType) types.ServiceSpecificCredentialMetadata {
	return types.ServiceSpecificCredentialMetadata{
		UserName: aws.String(user), ServiceSpecificCredentialId: aws.String(id), ServiceName: aws.String(service),
		ServiceUserName: aws.String(user + "-at-" + testAccount), CreateDate: aws.Time(created), ExpirationDate: expires, Status: status,
	}
}

// fakeWithUsers is a fake whose report (ready at once) and authorization
// details hold the named users.
func fakeWithUsers(names ...string) *fakeIAM {
	var ru []reportUser
	var details []types.UserDetail
	for _, n := range names {
		ru = append(ru, reportUser{name: n})
		details = append(details, userDetail(n, "/", nil))
	}
	f := completeFake(reportCSV(ru...))
	f.gaadPages = []*iam.GetAccountAuthorizationDetailsOutput{{UserDetailList: details}}
	return f
}

// TestSnapshotServiceCredentials: one ListServiceSpecificCredentials with
// AllUsers=true per page, never one per user, each page asked for with
// the marker of the one before; each user gets its credentials sorted by
// service, then creation, with status, service user name and expiry as
// IAM lists them; a credential of a user not in the report is ignored.
func TestSnapshotServiceCredentials(t *testing.T) {
	f := fakeWithUsers("alice", "bob", "carol")
	expires := t0.AddDate(0, 0, 30)
	f.serviceCreds = [][]types.ServiceSpecificCredentialMetadata{
		{
			serviceCred("alice", "ACCA3", "codecommit.amazonaws.com", t0.AddDate(0, 0, -10), nil, types.StatusTypeActive),
			serviceCred("alice", "ACCA1", "bedrock.amazonaws.com", t0.AddDate(0, 0, -5), &expires, types.StatusTypeActive),
		},
		{
			serviceCred("newcomer", "ACCAX", "codecommit.amazonaws.com", t0, nil, types.StatusTypeActive), // created after the report
			serviceCred("alice", "ACCA2", "codecommit.amazonaws.com", t0.AddDate(0, 0, -20), nil, types.StatusTypeInactive),
		},
		{
			serviceCred("bob", "ACCB1", "cassandra.amazonaws.com", t0.AddDate(-1, 0, 0), nil, types.StatusTypeExpired),
		},
	}
	c := newCollector(t, f)
	c.serviceCredentialPage = 2
	snap, err := c.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !snap.ServiceCredentialsRead {
		t.Error("ServiceCredentialsRead = false; want true after a live read")
	}
	got := map[string][]inventory.ServiceCredential{}
	for _, u := range snap.Users {
		got[u.Name] = u.ServiceCredentials
	}
	sc := func(id, service, status string, created time.Time, expires time.Time) inventory.ServiceCredential {
		return inventory.ServiceCredential{ID: id, ServiceName: service, ServiceUserName: "", Status: status, CreatedAt: created, ExpiresAt: expires}
	}
	want := map[string][]inventory.ServiceCredential{
		"alice": {
			sc("ACCA1", "bedrock.amazonaws.com", inventory.StatusActive, t0.AddDate(0, 0, -5), expires),
			sc("ACCA2", "codecommit.amazonaws.com", inventory.StatusInactive, t0.AddDate(0, 0, -20), time.Time{}),
			sc("ACCA3", "codecommit.amazonaws.com", inventory.StatusActive, t0.AddDate(0, 0, -10), time.Time{}),
		},
		"bob":   {sc("ACCB1", "cassandra.amazonaws.com", inventory.StatusExpired, t0.AddDate(-1, 0, 0), time.Time{})},
		"carol": nil,
	}
	for name, creds := range want {
		for i := range creds {
			creds[i].ServiceUserName = name + "-at-" + testAccount
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("users' service credentials (-want +got):\n%s", diff)
	}

	var markers []string
	for _, in := range f.serviceCredsInputs {
		if !aws.ToBool(in.AllUsers) || in.UserName != nil || aws.ToInt32(in.MaxItems) != 2 {
			t.Errorf("ListServiceSpecificCredentials input %+v; want AllUsers, no UserName, MaxItems 2", in)
		}
		markers = append(markers, aws.ToString(in.Marker))
	}
	if want := []string{"", "s1", "s2"}; !slices.Equal(markers, want) {
		t.Errorf("ListServiceSpecificCredentials markers = %q; want %q (three pages, each after the one before)", markers, want)
	}
}

// TestSnapshotServiceCredentialsPageSize: in production each page asks
// for the API's maximum, 1,000.
func TestSnapshotServiceCredentialsPageSize(t *testing.T) {
	f := fakeWithUsers("alice")
	if _, err := newCollector(t, f).Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(f.serviceCredsInputs) != 1 || aws.ToInt32(f.serviceCredsInputs[0].MaxItems) != 1000 {
		t.Errorf("ListServiceSpecificCredentials inputs %+v; want one, MaxItems 1000", f.serviceCredsInputs)
	}
}

// TestSnapshotServiceCredentialsRepeatedMarker: a marker IAM answers twice
// would list forever; the read fails instead.
func TestSnapshotServiceCredentialsRepeatedMarker(t *testing.T) {
	f := &loopingCreds{fakeWithUsers("alice")}
	c := newCollector(t, f.fakeIAM)
	c.IAM = f
	_, err := snapshotWithin(t, c, context.Background())
	if want := "list service-specific credentials (page 2): IAM answered the same marker again"; err == nil || err.Error() != want {
		t.Errorf("Snapshot() = %v; want %q", err, want)
	}
}

// loopingCreds answers every ListServiceSpecificCredentials with the
// marker "again".
type loopingCreds struct{ *fakeIAM }

func (l *loopingCreds) ListServiceSpecificCredentials(ctx context.Context, in *iam.ListServiceSpecificCredentialsInput, _ ...func(*iam.Options)) (*iam.ListServiceSpecificCredentialsOutput, error) {
	l.record("ListServiceSpecificCredentials")
	return &iam.ListServiceSpecificCredentialsOutput{IsTruncated: true, Marker: aws.String("again")}, nil
}

// TestSnapshotAccountSummary: GetAccountSummary's root flags are read into
// Snapshot.Summary, once.
func TestSnapshotAccountSummary(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    map[string]int32
		want inventory.AccountSummary
	}{
		{"all present", map[string]int32{"AccountMFAEnabled": 1, "AccountAccessKeysPresent": 1, "AccountSigningCertificatesPresent": 1, "Users": 3},
			inventory.AccountSummary{RootMFAEnabled: true, RootAccessKeysPresent: true, RootSigningCertsPresent: true}},
		{"none", map[string]int32{"AccountMFAEnabled": 0, "AccountAccessKeysPresent": 0, "AccountSigningCertificatesPresent": 0},
			inventory.AccountSummary{}},
		{"MFA only", map[string]int32{"AccountMFAEnabled": 1}, inventory.AccountSummary{RootMFAEnabled: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fakeWithUsers("alice")
			f.summary = tc.m
			snap, err := newCollector(t, f).Snapshot(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if snap.Summary == nil || *snap.Summary != tc.want {
				t.Errorf("Summary = %+v; want %+v", snap.Summary, tc.want)
			}
			if n := f.count("GetAccountSummary"); n != 1 {
				t.Errorf("GetAccountSummary calls = %d; want 1", n)
			}
		})
	}
}

func sshKey(user, id string, uploaded time.Time, active bool) types.SSHPublicKeyMetadata {
	return types.SSHPublicKeyMetadata{UserName: aws.String(user), SSHPublicKeyId: aws.String(id), UploadDate: aws.Time(uploaded), Status: statusOf(active)}
}

// TestSnapshotSSHKeys: the SSH public keys of the users SSHKeyUsers
// selects — and only theirs — are listed (every page), oldest first, and
// the calls counted; a user deleted since the report is skipped (not
// read); without SSHKeyUsers none is read.
func TestSnapshotSSHKeys(t *testing.T) {
	older, newer := t0.AddDate(-1, 0, 0), t0.AddDate(0, -1, 0)
	newFake := func() *fakeIAM {
		f := fakeWithUsers("alice", "bob", "carol", "dan", "gone")
		f.gaadPages[0].UserDetailList[0] = userDetail("alice", "/", map[string]string{"git": "yes"})
		f.sshKeys = map[string][][]types.SSHPublicKeyMetadata{
			"alice": {{sshKey("alice", "APKA2", newer, true)}, {sshKey("alice", "APKA1", older, false)}},
			"bob":   {{sshKey("bob", "APKB1", older, true)}},
			"dan":   {{sshKey("dan", "APKD1", older, true)}},
		}
		f.sshKeysErr = map[string]error{"gone": &types.NoSuchEntityException{Message: aws.String("gone")}}
		return f
	}
	selected := []string{"alice", "carol", "gone"}

	f := newFake()
	c := newCollector(t, f)
	c.SSHKeyUsers = func(u *inventory.User) bool { return slices.Contains(selected, u.Name) }
	c.KeyLookupParallel = 2
	snap, err := c.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	type view struct {
		Read bool
		Keys []inventory.SSHKey
	}
	got := map[string]view{}
	for _, u := range snap.Users {
		got[u.Name] = view{u.SSHKeysRead, u.SSHKeys}
	}
	want := map[string]view{
		"alice": {true, []inventory.SSHKey{{ID: "APKA1", UploadedAt: older}, {ID: "APKA2", Active: true, UploadedAt: newer}}},
		"bob":   {}, "dan": {}, "gone": {},
		"carol": {Read: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("users' SSH keys (-want +got):\n%s", diff)
	}
	perUser := map[string]int{}
	for _, in := range f.sshKeysInputs {
		perUser[aws.ToString(in.UserName)]++
	}
	if diff := cmp.Diff(map[string]int{"alice": 2, "carol": 1, "gone": 1}, perUser); diff != "" {
		t.Errorf("ListSSHPublicKeys calls per user (-want +got):\n%s", diff)
	}
	if snap.SSHKeyCalls != 4 {
		t.Errorf("SSHKeyCalls = %d; want 4 (alice's two pages, carol, gone)", snap.SSHKeyCalls)
	}

	f = newFake()
	snap, err = newCollector(t, f).Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := f.count("ListSSHPublicKeys"); n != 0 || snap.SSHKeyCalls != 0 {
		t.Errorf("without SSHKeyUsers: %d ListSSHPublicKeys calls, SSHKeyCalls %d; want none", n, snap.SSHKeyCalls)
	}
	for _, u := range snap.Users {
		if u.SSHKeysRead || u.SSHKeys != nil {
			t.Errorf("without SSHKeyUsers, %s: SSHKeysRead %v, keys %v; want unread", u.Name, u.SSHKeysRead, u.SSHKeys)
		}
	}
}

// TestSnapshotSSHKeysError: a failed ListSSHPublicKeys fails the account's
// Snapshot, naming the user and the account.
func TestSnapshotSSHKeysError(t *testing.T) {
	f := fakeWithUsers("alice", "bob")
	f.sshKeysErr = map[string]error{"bob": &smithy.GenericAPIError{Code: "AccessDenied", Message: "no"}}
	c := newCollector(t, f)
	c.SSHKeyUsers = func(*inventory.User) bool { return true }
	snap, err := c.Snapshot(context.Background())
	if want := "list SSH public keys of bob in account 123456789012: api error AccessDenied: no"; err == nil || err.Error() != want || snap != nil {
		t.Errorf("Snapshot() = %v, %v; want no snapshot and %q", snap, err, want)
	}
}

func signingCert(user, id string, uploaded time.Time, active bool) types.SigningCertificate {
	return types.SigningCertificate{UserName: aws.String(user), CertificateId: aws.String(id), UploadDate: aws.Time(uploaded),
		Status: statusOf(active), CertificateBody: aws.String("-----BEGIN CERTIFICATE-----")}
}

// TestResolveIDsSigningCerts: signing certificate IDs are looked up only
// for the users named (one ListSigningCertificates each, every page, once
// however often named), matched to the report's slots by upload date, and
// beside access keys under the same limiter: a user named for both gets
// one call of each. Root's certificates cannot be listed by name: no call.
func TestResolveIDsSigningCerts(t *testing.T) {
	older, newer := t0.AddDate(0, 0, -400), t0.AddDate(0, 0, -30)
	cert := func(n int, uploaded time.Time, active bool) inventory.SigningCert {
		return inventory.SigningCert{Slot: n, CreatedAt: uploaded, Active: active}
	}
	snap := &inventory.Snapshot{AccountID: testAccount,
		Root: &inventory.User{Name: inventory.RootUserName, SigningCerts: []inventory.SigningCert{cert(1, older, true)}},
		Users: []inventory.User{
			{Name: "both", AccessKeys: []inventory.AccessKey{{Slot: 1, CreatedAt: older, Active: true}},
				SigningCerts: []inventory.SigningCert{cert(1, older, true), cert(2, newer, false)}},
			{Name: "paged", SigningCerts: []inventory.SigningCert{cert(1, older, true), cert(2, newer, true)}},
			// As moto writes it: an active certificate without a date,
			// paired as the lone one left.
			{Name: "undated", SigningCerts: []inventory.SigningCert{{Slot: 1, Active: true}}},
			{Name: "not-flagged", SigningCerts: []inventory.SigningCert{cert(1, older, true)}},
			{Name: "no-certs"},
		}}
	f := &fakeIAM{
		keys: map[string][][]types.AccessKeyMetadata{"both": {{key("AKIABOTH", older, true)}}},
		certs: map[string][][]types.SigningCertificate{
			"both":        {{signingCert("both", "CERTNEW", newer.Add(400*time.Millisecond), false), signingCert("both", "CERTOLD", older, true)}},
			"paged":       {{signingCert("paged", "CERTP2", newer, true)}, {signingCert("paged", "CERTP1", older, true)}},
			"undated":     {{signingCert("undated", "CERTU", older, true)}},
			"not-flagged": {{signingCert("not-flagged", "CERTNF", older, true)}},
		},
	}
	c := newCollector(t, f)
	c.KeyLookupParallel = 2
	err := c.ResolveIDs(context.Background(), snap, IDLookups{
		AccessKeys:   []string{"both"},
		SigningCerts: []string{"both", "paged", "undated", "no-certs", inventory.RootUserName, "unknown", "paged"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, u := range append([]inventory.User{*snap.Root}, snap.Users...) {
		for _, c := range u.SigningCerts {
			got[u.Name] = append(got[u.Name], c.ID)
		}
	}
	want := map[string][]string{
		inventory.RootUserName: {""},
		"both":                 {"CERTOLD", "CERTNEW"},
		"paged":                {"CERTP1", "CERTP2"},
		"undated":              {"CERTU"},
		"not-flagged":          {""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("certificate IDs after ResolveIDs (-want +got):\n%s", diff)
	}
	if id := snap.Users[0].AccessKeys[0].ID; id != "AKIABOTH" {
		t.Errorf("both's access key ID = %q; want AKIABOTH", id)
	}
	perUser := map[string]int{}
	for _, in := range f.certsInputs {
		perUser[aws.ToString(in.UserName)]++
	}
	if diff := cmp.Diff(map[string]int{"both": 1, "paged": 2, "undated": 1}, perUser); diff != "" {
		t.Errorf("ListSigningCertificates calls per user (-want +got):\n%s", diff)
	}
	if n := f.count("ListAccessKeys"); n != 1 {
		t.Errorf("ListAccessKeys calls = %d; want 1 (both's)", n)
	}
}

func TestResolveIDsSigningCertsError(t *testing.T) {
	snap := &inventory.Snapshot{AccountID: testAccount, Users: []inventory.User{
		{Name: "alice", SigningCerts: []inventory.SigningCert{{Slot: 1, CreatedAt: t0, Active: true}}},
	}}
	f := &fakeIAM{certsErr: map[string]error{"alice": &smithy.GenericAPIError{Code: "AccessDenied", Message: "no"}}}
	err := newCollector(t, f).ResolveIDs(context.Background(), snap, IDLookups{SigningCerts: []string{"alice"}})
	if want := "list signing certificates of alice in account 123456789012: api error AccessDenied: no"; err == nil || err.Error() != want {
		t.Errorf("ResolveIDs() = %v; want %q", err, want)
	}
}
