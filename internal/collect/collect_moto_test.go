package collect

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/testenv"
)

// motoCollector is a collector with real SDK clients pointed at m, each call
// counted in counter.
func motoCollector(t testing.TB, m *testenv.MotoServer, counter *awsapi.Counter, logger *slog.Logger) *Collector {
	cfg := counter.Instrument(m.Config(t))
	return &Collector{
		IAM: iam.NewFromConfig(cfg), STS: sts.NewFromConfig(cfg),
		Logger: logger,
		// moto answers STARTED, then COMPLETE at once.
		PollInitial: 10 * time.Millisecond, PollMax: 50 * time.Millisecond,
	}
}

// Ages of a key or password, in whole days before now (-1: never).
type keyView struct {
	Slot                 int
	Active               bool
	AgeDays, UsedDaysAgo int
	ID                   string
}

type userView struct {
	Name, Path          string
	Tags                map[string]string
	Groups              []string
	Password            bool
	PasswordAgeDays     int // -1: no password
	PasswordUsedDaysAgo int // -1: never
	MFA                 bool
	Keys                []keyView
}

func daysAgo(t, now time.Time) int {
	if t.IsZero() {
		return -1
	}
	return policy.AgeDays(t, now)
}

func view(u inventory.User, now time.Time) userView {
	v := userView{
		Name: u.Name, Path: u.Path, Tags: u.Tags, Groups: u.Groups,
		Password: u.PasswordEnabled, PasswordAgeDays: daysAgo(u.PasswordLastChanged, now),
		PasswordUsedDaysAgo: daysAgo(u.PasswordLastUsed, now), MFA: u.MFAActive,
	}
	for _, k := range u.AccessKeys {
		v.Keys = append(v.Keys, keyView{Slot: k.Slot, Active: k.Active, AgeDays: daysAgo(k.CreatedAt, now), UsedDaysAgo: daysAgo(k.LastUsedAt, now), ID: k.ID})
	}
	return v
}

func TestCollectMoto(t *testing.T) {
	m := testenv.Moto(t)
	ctx := context.Background()
	never := -1
	ids := m.Seed(t, []testenv.SeedUser{
		{
			Name: "alice", Path: "/people/", Tags: map[string]string{"Email": "alice@example.com"}, Groups: []string{"devs"},
			Keys:            []testenv.SeedKey{{AgeDays: 100, LastUsedDaysAgo: 5}, {AgeDays: 10, LastUsedDaysAgo: never}},
			PasswordAgeDays: 200, PasswordLastUsedDaysAgo: 3, MFA: true,
		},
		{
			Name: "bob", Keys: []testenv.SeedKey{{AgeDays: 95, LastUsedDaysAgo: 60, Inactive: true}},
			PasswordAgeDays: never, PasswordLastUsedDaysAgo: never,
		},
		{
			Name: "carol", Groups: []string{"devs", "admins"},
			PasswordAgeDays: 30, PasswordLastUsedDaysAgo: never,
		},
		{
			Name: "ci-bot", Path: "/machines/", Tags: map[string]string{"UserType": "machine", "Owner": "platform"}, Groups: []string{"deploy"},
			Keys:            []testenv.SeedKey{{AgeDays: 400, LastUsedDaysAgo: 1}},
			PasswordAgeDays: never, PasswordLastUsedDaysAgo: never,
		},
		{
			Name: "dave", Keys: []testenv.SeedKey{{AgeDays: 81, LastUsedDaysAgo: 81}, {AgeDays: 75, LastUsedDaysAgo: 2}},
			PasswordAgeDays: never, PasswordLastUsedDaysAgo: never,
		},
		{Name: "erin", CreatedDaysAgo: 50, PasswordAgeDays: never, PasswordLastUsedDaysAgo: never},
	})
	admin := iam.NewFromConfig(m.Config(t))
	if _, err := admin.UpdateAccountPasswordPolicy(ctx, &iam.UpdateAccountPasswordPolicyInput{MaxPasswordAge: aws.Int32(90), MinimumPasswordLength: aws.Int32(12),
		PasswordReusePrevention: aws.Int32(5)}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateAccountAlias(ctx, &iam.CreateAccountAliasInput{AccountAlias: aws.String("keywarden-test")}); err != nil {
		t.Fatal(err)
	}

	counter := awsapi.NewCounter()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := motoCollector(t, m, counter, logger)
	snap, err := c.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()

	// Users with an access key at least 70 days old stand in for the
	// users with access-key findings.
	var flagged []string
	for _, u := range snap.Users {
		for _, k := range u.AccessKeys {
			if policy.AgeDays(k.CreatedAt, now) >= 70 {
				flagged = append(flagged, u.Name)
				break
			}
		}
	}
	if err := c.ResolveKeyIDs(ctx, snap, flagged); err != nil {
		t.Fatal(err)
	}

	if snap.AccountID != testenv.AccountID || snap.AccountAlias != "keywarden-test" {
		t.Errorf("Snapshot() account %q alias %q; want %s keywarden-test", snap.AccountID, snap.AccountAlias, testenv.AccountID)
	}
	if diff := cmp.Diff(&inventory.PasswordPolicy{MaxPasswordAge: 90, MinimumLength: 12, ReusePrevention: 5}, snap.PasswordPolicy); diff != "" || !snap.PasswordPolicyKnown {
		t.Errorf("Snapshot().PasswordPolicy (known %v) (-want +got):\n%s", snap.PasswordPolicyKnown, diff)
	}

	var got []userView
	for _, u := range snap.Users {
		got = append(got, view(u, now))
	}
	want := []userView{
		{
			Name: "alice", Path: "/people/", Tags: map[string]string{"Email": "alice@example.com"}, Groups: []string{"devs"},
			Password: true, PasswordAgeDays: 200, PasswordUsedDaysAgo: 3, MFA: true,
			Keys: []keyView{
				{Slot: 1, Active: true, AgeDays: 100, UsedDaysAgo: 5, ID: ids["alice"][0]},
				{Slot: 2, Active: true, AgeDays: 10, UsedDaysAgo: never, ID: ids["alice"][1]},
			},
		},
		{
			Name: "bob", Path: "/", PasswordAgeDays: never, PasswordUsedDaysAgo: never,
			Keys: []keyView{{Slot: 1, Active: false, AgeDays: 95, UsedDaysAgo: 60, ID: ids["bob"][0]}},
		},
		{
			Name: "carol", Path: "/", Groups: []string{"admins", "devs"},
			Password: true, PasswordAgeDays: 30, PasswordUsedDaysAgo: never,
		},
		{
			Name: "ci-bot", Path: "/machines/", Tags: map[string]string{"UserType": "machine", "Owner": "platform"}, Groups: []string{"deploy"},
			PasswordAgeDays: never, PasswordUsedDaysAgo: never,
			Keys: []keyView{{Slot: 1, Active: true, AgeDays: 400, UsedDaysAgo: 1, ID: ids["ci-bot"][0]}},
		},
		{
			Name: "dave", Path: "/", PasswordAgeDays: never, PasswordUsedDaysAgo: never,
			Keys: []keyView{
				{Slot: 1, Active: true, AgeDays: 81, UsedDaysAgo: 81, ID: ids["dave"][0]},
				{Slot: 2, Active: true, AgeDays: 75, UsedDaysAgo: 2, ID: ids["dave"][1]},
			},
		},
		{Name: "erin", Path: "/", PasswordAgeDays: never, PasswordUsedDaysAgo: never},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Snapshot() users (-want +got):\n%s", diff)
	}

	t.Logf("API calls: %v", counter.ByOperation())
	// 6 + max(1, ceil(N/1000)) + F + S calls: R = 2 report calls (moto's
	// report is ready when first looked at), S = 1 page of
	// service-specific credentials (none here).
	n, f := len(snap.Users), len(flagged)
	budget := 6 + max(1, (n+999)/1000) + f + 1
	if f != 4 {
		t.Errorf("users with keys of 70 days or more = %v; want 4 (alice bob ci-bot dave)", flagged)
	}
	if total := counter.Total(); total != budget {
		t.Errorf("API calls for %d users, %d flagged = %d %v; want 6 + max(1, ceil(%d/1000)) + %d + 1 = %d", n, f, total, counter.ByOperation(), n, f, budget)
	}
	if got := counter.ByOperation()["IAM.ListAccessKeys"]; got != f {
		t.Errorf("ListAccessKeys calls = %d; want %d (one per flagged user)", got, f)
	}
}

func TestCollectMotoEmptyAccount(t *testing.T) {
	m := testenv.Moto(t)
	counter := awsapi.NewCounter()
	snap, err := motoCollector(t, m, counter, nil).Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Users) != 0 || snap.PasswordPolicy != nil || !snap.PasswordPolicyKnown || snap.AccountAlias != "" {
		t.Errorf("Snapshot() of an empty account = %+v; want no users, no password policy (known), no alias", snap)
	}
	if total := counter.Total(); total != 8 {
		t.Errorf("API calls for an empty account = %d %v; want 6 + max(1, 0) + 0 + 1 = 8", total, counter.ByOperation())
	}
	if !snap.ServiceCredentialsRead || snap.Summary == nil {
		t.Errorf("Snapshot() of an empty account: service credentials read %v, summary %+v; want both read", snap.ServiceCredentialsRead, snap.Summary)
	}
}

// TestCollectMotoMarkerNamedUsers: IAM users named like the credential
// report's "no value" markers (legal names anyone with iam:CreateUser can
// pick) are read like any other; the scan of the account does not fail.
func TestCollectMotoMarkerNamedUsers(t *testing.T) {
	m := testenv.Moto(t)
	never := -1
	m.Seed(t, []testenv.SeedUser{
		{Name: "no_information", Keys: []testenv.SeedKey{{AgeDays: 100, LastUsedDaysAgo: never}}, PasswordAgeDays: never, PasswordLastUsedDaysAgo: never},
		{Name: "not_supported", Keys: []testenv.SeedKey{{AgeDays: 30, LastUsedDaysAgo: 2}}, PasswordAgeDays: never, PasswordLastUsedDaysAgo: never},
		{Name: "alice", PasswordAgeDays: 10, PasswordLastUsedDaysAgo: never},
	})
	snap, err := motoCollector(t, m, awsapi.NewCounter(), nil).Snapshot(context.Background())
	if err != nil {
		t.Fatalf("Snapshot() of an account with users no_information and not_supported: %v", err)
	}
	now := time.Now()
	var got []userView
	for _, u := range snap.Users {
		got = append(got, view(u, now))
	}
	want := []userView{
		{Name: "alice", Path: "/", Password: true, PasswordAgeDays: 10, PasswordUsedDaysAgo: never},
		{Name: "no_information", Path: "/", PasswordAgeDays: never, PasswordUsedDaysAgo: never,
			Keys: []keyView{{Slot: 1, Active: true, AgeDays: 100, UsedDaysAgo: never}}},
		{Name: "not_supported", Path: "/", PasswordAgeDays: never, PasswordUsedDaysAgo: never,
			Keys: []keyView{{Slot: 1, Active: true, AgeDays: 30, UsedDaysAgo: 2}}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Snapshot() users (-want +got):\n%s", diff)
	}
}
