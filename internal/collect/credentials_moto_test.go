package collect

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/testenv"
)

// TestCollectMotoCredentials reads every new credential kind from moto:
// the account summary; service-specific credentials of all users in one
// listing of several pages (a page of 2 here, so S > 1); signing
// certificate IDs resolved only for the users standing in for those with a
// certificate finding, matched to the report's slots; SSH public keys
// only for the users the ssh_key_age rule selects (by tag). The calls are
// exactly 6 + max(1, ceil(N/1000)) + F + S + K.
func TestCollectMotoCredentials(t *testing.T) {
	const (
		codeCommit = "codecommit.amazonaws.com"
		keyspaces  = "cassandra.amazonaws.com"
		bedrock    = "bedrock.amazonaws.com"
	)
	m := testenv.Moto(t)
	git := map[string]string{"git": "yes"}
	seeded := m.SeedAll(t, []testenv.SeedUser{
		{
			Name: "alice", Tags: git, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1,
			Certs: []testenv.SeedCert{{AgeDays: 400}, {AgeDays: 30, Inactive: true}},
			ServiceCredentials: []testenv.SeedServiceCredential{
				{Service: codeCommit, AgeDays: 200}, {Service: codeCommit, AgeDays: 20, Inactive: true},
				{Service: bedrock, AgeDays: 10, ExpiresAfterDays: 4}, {Service: bedrock, AgeDays: 3, ExpiresAfterDays: 30},
			},
			SSHKeys: []testenv.SeedSSHKey{{AgeDays: 500}, {AgeDays: 50, Inactive: true}},
		},
		{
			Name: "bob", PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1,
			Certs:              []testenv.SeedCert{{AgeDays: 100}},
			ServiceCredentials: []testenv.SeedServiceCredential{{Service: keyspaces, AgeDays: 90}},
			SSHKeys:            []testenv.SeedSSHKey{{AgeDays: 60}},
		},
		{
			Name: "carol", PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1,
			Certs:              []testenv.SeedCert{{AgeDays: 5}},
			ServiceCredentials: []testenv.SeedServiceCredential{{Service: codeCommit, AgeDays: 1}},
		},
		{Name: "dave", Tags: git, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1},
	})
	summary, err := iam.NewFromConfig(m.Config(t)).GetAccountSummary(context.Background(), &iam.GetAccountSummaryInput{})
	if err != nil {
		t.Fatal(err)
	}

	cfg := config.Default()
	cfg.Rules.SSHKeyAge = &config.SSHKeyRule{Users: config.Match{Tags: git}, MaxAge: 90}
	p := m.NewProxy(t)
	counter := awsapi.NewCounter()
	c := proxyCollector(t, m, p, counter)
	c.serviceCredentialPage = 2
	c.SSHKeyUsers = policy.SSHKeyUsers(cfg)
	ctx := context.Background()
	snap, err := c.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	certUsers := []string{"alice", "bob"} // stand-ins for the users with a certificate finding
	if err := c.ResolveIDs(ctx, snap, IDLookups{SigningCerts: certUsers}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()

	// The account summary, as IAM reports it now.
	want := inventory.AccountSummary{
		RootMFAEnabled:          summary.SummaryMap["AccountMFAEnabled"] > 0,
		RootAccessKeysPresent:   summary.SummaryMap["AccountAccessKeysPresent"] > 0,
		RootSigningCertsPresent: summary.SummaryMap["AccountSigningCertificatesPresent"] > 0,
	}
	if snap.Summary == nil || *snap.Summary != want {
		t.Errorf("Summary = %+v; want %+v (GetAccountSummary's map %v)", snap.Summary, want, summary.SummaryMap)
	}

	type credView struct {
		ID, Service, Status string
		AgeDays, ExpiresIn  int // ExpiresIn: days from now, 0 when it never expires
	}
	type certView struct {
		Slot    int
		ID      string
		Active  bool
		AgeDays int
	}
	type sshView struct {
		ID      string
		Active  bool
		AgeDays int
	}
	type userView struct {
		Certs   []certView
		Creds   []credView
		SSHRead bool
		SSH     []sshView
	}
	got := map[string]userView{}
	for _, u := range snap.Users {
		var v userView
		for _, c := range u.SigningCerts {
			v.Certs = append(v.Certs, certView{c.Slot, c.ID, c.Active, daysAgo(c.CreatedAt, now)})
		}
		for _, c := range u.ServiceCredentials {
			cv := credView{ID: c.ID, Service: c.ServiceName, Status: c.Status, AgeDays: daysAgo(c.CreatedAt, now)}
			if !c.ExpiresAt.IsZero() {
				cv.ExpiresIn = -daysAgo(c.ExpiresAt, now)
			}
			v.Creds = append(v.Creds, cv)
		}
		v.SSHRead = u.SSHKeysRead
		for _, k := range u.SSHKeys {
			v.SSH = append(v.SSH, sshView{k.ID, k.Active, daysAgo(k.UploadedAt, now)})
		}
		got[u.Name] = v
	}
	cert, cred, ssh := seeded.Certs, seeded.ServiceCredentials, seeded.SSHKeys
	wantUsers := map[string]userView{
		"alice": {
			Certs: []certView{{1, cert["alice"][0], true, 400}, {2, cert["alice"][1], false, 30}},
			// By service, then creation.
			Creds: []credView{
				{cred["alice"][2], bedrock, inventory.StatusExpired, 10, -6},
				{cred["alice"][3], bedrock, inventory.StatusActive, 3, 27},
				{cred["alice"][0], codeCommit, inventory.StatusActive, 200, 0},
				{cred["alice"][1], codeCommit, inventory.StatusInactive, 20, 0},
			},
			SSHRead: true,
			SSH:     []sshView{{ssh["alice"][0], true, 500}, {ssh["alice"][1], false, 50}},
		},
		"bob": {
			Certs: []certView{{1, cert["bob"][0], true, 100}},
			Creds: []credView{{cred["bob"][0], keyspaces, inventory.StatusActive, 90, 0}},
		},
		"carol": {
			Certs: []certView{{1, "", true, 5}}, // not flagged: no lookup
			Creds: []credView{{cred["carol"][0], codeCommit, inventory.StatusActive, 1, 0}},
		},
		"dave": {SSHRead: true},
	}
	if diff := cmp.Diff(wantUsers, got); diff != "" {
		t.Errorf("users' credentials (-want +got):\n%s", diff)
	}

	users := func(op string) []string {
		var out []string
		for _, o := range ops(p, op) {
			out = append(out, o.Params.Get("UserName"))
		}
		slices.Sort(out)
		return out
	}
	if got := users("iam:ListSigningCertificates"); !slices.Equal(got, certUsers) {
		t.Errorf("ListSigningCertificates for %q; want only the flagged users %q", got, certUsers)
	}
	if got, want := users("iam:ListSSHPublicKeys"), []string{"alice", "dave"}; !slices.Equal(got, want) {
		t.Errorf("ListSSHPublicKeys for %q; want only the selected users %q", got, want)
	}
	for _, o := range ops(p, "iam:ListServiceSpecificCredentials") {
		if o.Params.Get("AllUsers") != "true" || o.Params.Get("UserName") != "" {
			t.Errorf("ListServiceSpecificCredentials %v; want AllUsers=true, no UserName", o.Params)
		}
	}

	// C credentials, 2 a page: S = ceil(C/2), 3 here.
	creds := 0
	for _, ids := range seeded.ServiceCredentials {
		creds += len(ids)
	}
	n, f, k := len(snap.Users), len(certUsers), 2
	s := max(1, (creds+1)/2)
	if got := counter.ByOperation()["IAM.ListServiceSpecificCredentials"]; got != s || s < 2 {
		t.Errorf("ListServiceSpecificCredentials calls = %d; want %d (%d credentials, 2 a page), more than one", got, s, creds)
	}
	if snap.SSHKeyCalls != k {
		t.Errorf("SSHKeyCalls = %d; want %d", snap.SSHKeyCalls, k)
	}
	budget := 6 + max(1, (n+999)/1000) + f + s + k
	if total := counter.Total(); total != budget {
		t.Errorf("API calls = %d %v; want 6 + max(1, ceil(%d/1000)) + F %d + S %d + K %d = %d", total, counter.ByOperation(), n, f, s, k, budget)
	}
}
