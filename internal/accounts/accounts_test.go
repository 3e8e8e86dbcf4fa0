package accounts

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
	gocmp "github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
)

const caller = "111111111111"

// fakeOrg is an organization: accounts under parents (roots and OUs), OUs
// under parents, served pageSize items a page with NextTokens. It records
// every call's input.
type fakeOrg struct {
	pageSize int
	accounts map[string][]orgtypes.Account // parent → accounts
	ous      map[string][]string           // parent → child OU IDs
	all      []orgtypes.Account            // ListAccounts

	mu    sync.Mutex
	calls []string // "Op parent token"
}

func (f *fakeOrg) record(op, parent string, token *string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, strings.Join(slices.DeleteFunc([]string{op, parent, aws.ToString(token)}, func(s string) bool { return s == "" }), " "))
}

// page returns items[start:start+pageSize] for token "t<start>", and the
// next token.
func page[T any](items []T, token *string, size int) ([]T, *string, error) {
	start := 0
	if t := aws.ToString(token); t != "" {
		if _, err := fmt.Sscanf(t, "t%d", &start); err != nil {
			return nil, nil, fmt.Errorf("fake: bad token %q", t)
		}
	}
	end := min(start+size, len(items))
	var next *string
	if end < len(items) {
		next = aws.String(fmt.Sprintf("t%d", end))
	}
	return items[start:end], next, nil
}

func (f *fakeOrg) ListAccounts(ctx context.Context, in *organizations.ListAccountsInput, _ ...func(*organizations.Options)) (*organizations.ListAccountsOutput, error) {
	f.record("ListAccounts", "", in.NextToken)
	items, next, err := page(f.all, in.NextToken, f.pageSize)
	return &organizations.ListAccountsOutput{Accounts: items, NextToken: next}, err
}

func (f *fakeOrg) ListAccountsForParent(ctx context.Context, in *organizations.ListAccountsForParentInput, _ ...func(*organizations.Options)) (*organizations.ListAccountsForParentOutput, error) {
	f.record("ListAccountsForParent", aws.ToString(in.ParentId), in.NextToken)
	items, next, err := page(f.accounts[aws.ToString(in.ParentId)], in.NextToken, f.pageSize)
	return &organizations.ListAccountsForParentOutput{Accounts: items, NextToken: next}, err
}

func (f *fakeOrg) ListOrganizationalUnitsForParent(ctx context.Context, in *organizations.ListOrganizationalUnitsForParentInput, _ ...func(*organizations.Options)) (*organizations.ListOrganizationalUnitsForParentOutput, error) {
	f.record("ListOrganizationalUnitsForParent", aws.ToString(in.ParentId), in.NextToken)
	ids, next, err := page(f.ous[aws.ToString(in.ParentId)], in.NextToken, f.pageSize)
	var ous []orgtypes.OrganizationalUnit
	for _, id := range ids {
		ous = append(ous, orgtypes.OrganizationalUnit{Id: aws.String(id)})
	}
	return &organizations.ListOrganizationalUnitsForParentOutput{OrganizationalUnits: ous, NextToken: next}, err
}

type fakeSTS struct {
	arn   string
	err   error
	calls int
}

func (f *fakeSTS) GetCallerIdentity(ctx context.Context, _ *sts.GetCallerIdentityInput, _ ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	return &sts.GetCallerIdentityOutput{Account: aws.String(caller), Arn: aws.String(cmp.Or(f.arn, "arn:aws:iam::"+caller+":user/scanner"))}, nil
}

func acct(id string, state orgtypes.AccountState) orgtypes.Account {
	return orgtypes.Account{Id: aws.String(id), Name: aws.String("acct-" + id), State: state}
}

func ids(ts []Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

// TestTargetsOrganizationPaginates: every ListAccounts page is read
// (NextToken passed back), only ACTIVE accounts are kept, the exclusions
// are left out, the caller's account uses the caller's credentials and
// every other account the role in that account.
func TestTargetsOrganizationPaginates(t *testing.T) {
	org := &fakeOrg{pageSize: 2, all: []orgtypes.Account{
		acct("555555555555", orgtypes.AccountStateActive),
		acct(caller, orgtypes.AccountStateActive),
		acct("333333333333", orgtypes.AccountStateSuspended),
		acct("444444444444", orgtypes.AccountStateActive),
		acct("222222222222", orgtypes.AccountStateActive),
		acct("666666666666", orgtypes.AccountStatePendingClosure),
		{Id: aws.String("777777777777"), Status: orgtypes.AccountStatusActive}, // only the older Status field
	}}
	st := &fakeSTS{}
	got, err := Targets(context.Background(), config.Accounts{Organization: &config.Organization{
		RoleName: "KeywardenAudit", Exclude: []string{"444444444444"},
	}}, Deps{Organizations: org, STS: st})
	if err != nil {
		t.Fatal(err)
	}
	want := []Target{
		{ID: caller, Name: "acct-" + caller},
		{ID: "222222222222", Name: "acct-222222222222", RoleARN: "arn:aws:iam::222222222222:role/KeywardenAudit"},
		{ID: "555555555555", Name: "acct-555555555555", RoleARN: "arn:aws:iam::555555555555:role/KeywardenAudit"},
		{ID: "777777777777", RoleARN: "arn:aws:iam::777777777777:role/KeywardenAudit"},
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("Targets() (-want +got):\n%s", diff)
	}
	wantCalls := []string{"ListAccounts", "ListAccounts t2", "ListAccounts t4", "ListAccounts t6"}
	if !slices.Equal(org.calls, wantCalls) {
		t.Errorf("Organizations calls = %q; want %q (every page, tokens passed back)", org.calls, wantCalls)
	}
	if st.calls != 1 {
		t.Errorf("GetCallerIdentity calls = %d; want 1", st.calls)
	}
}

// TestTargetsOUsRecurse: with ous, the accounts directly under each OU
// and under all its child OUs (every page of both lists) are scanned, and
// nothing outside them.
func TestTargetsOUsRecurse(t *testing.T) {
	org := &fakeOrg{
		pageSize: 1,
		accounts: map[string][]orgtypes.Account{
			"r-root":           {acct("900000000000", orgtypes.AccountStateActive)},
			"ou-root-prod0001": {acct("100000000001", orgtypes.AccountStateActive), acct("100000000002", orgtypes.AccountStateActive)},
			"ou-root-eu000001": {acct("200000000001", orgtypes.AccountStateActive)},
			"ou-root-eudeep01": {acct("300000000001", orgtypes.AccountStateActive), acct("300000000002", orgtypes.AccountStateSuspended)},
			"ou-root-us000001": {acct("400000000001", orgtypes.AccountStateActive)},
			"ou-root-other001": {acct("800000000000", orgtypes.AccountStateActive)},
		},
		ous: map[string][]string{
			"r-root":           {"ou-root-prod0001", "ou-root-other001"},
			"ou-root-prod0001": {"ou-root-eu000001", "ou-root-us000001"},
			"ou-root-eu000001": {"ou-root-eudeep01"},
		},
	}
	got, err := Targets(context.Background(), config.Accounts{Organization: &config.Organization{
		RoleName: "Audit", OUs: []string{"ou-root-prod0001"}, Exclude: []string{"400000000001"},
	}}, Deps{Organizations: org, STS: &fakeSTS{}})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"100000000001", "100000000002", "200000000001", "300000000001"}; !slices.Equal(ids(got), want) {
		t.Errorf("Targets() = %v; want %v", ids(got), want)
	}
	for _, p := range []string{"ou-root-prod0001", "ou-root-eu000001", "ou-root-eudeep01", "ou-root-us000001"} {
		if !slices.Contains(org.calls, "ListAccountsForParent "+p) || !slices.Contains(org.calls, "ListOrganizationalUnitsForParent "+p) {
			t.Errorf("calls %q: want accounts and OUs listed under %s", org.calls, p)
		}
	}
	for _, want := range []string{"ListAccountsForParent ou-root-prod0001 t1", "ListOrganizationalUnitsForParent ou-root-prod0001 t1", "ListAccountsForParent ou-root-eudeep01 t1"} {
		if !slices.Contains(org.calls, want) {
			t.Errorf("calls %q: want %q (the second page)", org.calls, want)
		}
	}
	for _, c := range org.calls {
		if strings.Contains(c, "r-root") || strings.Contains(c, "other") || strings.HasPrefix(c, "ListAccounts ") {
			t.Errorf("call %q: nothing outside the OU should be listed", c)
		}
	}
}

func TestTargetsPartitionFromCaller(t *testing.T) {
	org := &fakeOrg{pageSize: 10, all: []orgtypes.Account{acct("222222222222", orgtypes.AccountStateActive)}}
	got, err := Targets(context.Background(), config.Accounts{Organization: &config.Organization{RoleName: "Audit"}},
		Deps{Organizations: org, STS: &fakeSTS{arn: "arn:aws-us-gov:iam::" + caller + ":user/scanner"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].RoleARN != "arn:aws-us-gov:iam::222222222222:role/Audit" {
		t.Errorf("Targets() = %+v; want the role ARN in the caller's partition", got)
	}
}

// TestTargetsPartitionFromConfig: accounts.partition names the partition
// of the role ARNs; credentials of another partition stop the scan before
// anything is listed.
func TestTargetsPartitionFromConfig(t *testing.T) {
	org := &fakeOrg{pageSize: 10, all: []orgtypes.Account{acct("222222222222", orgtypes.AccountStateActive)}}
	cfg := config.Accounts{Organization: &config.Organization{RoleName: "Audit"}, Partition: config.PartitionChina}
	got, err := Targets(context.Background(), cfg, Deps{Organizations: org, STS: &fakeSTS{arn: "arn:aws-cn:iam::" + caller + ":user/scanner"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].RoleARN != "arn:aws-cn:iam::222222222222:role/Audit" {
		t.Errorf("Targets() = %+v; want the role ARN in accounts.partition", got)
	}

	org = &fakeOrg{pageSize: 10, all: []orgtypes.Account{acct("222222222222", orgtypes.AccountStateActive)}}
	_, err = Targets(context.Background(), cfg, Deps{Organizations: org, STS: &fakeSTS{}})
	want := "accounts.partition is aws-cn, but the credentials are of partition aws (arn:aws:iam::" + caller + ":user/scanner): " +
		"run keywarden with credentials of aws-cn, or correct accounts.partition"
	if err == nil || err.Error() != want {
		t.Errorf("Targets() with credentials of another partition: error %v; want %q", err, want)
	}
	if len(org.calls) != 0 {
		t.Errorf("Organizations calls %v; want none after the partition check failed", org.calls)
	}
}

func TestTargetsListAndDefault(t *testing.T) {
	got, err := Targets(context.Background(), config.Accounts{List: []config.AccountTarget{
		{ID: "333333333333", RoleARN: "arn:aws:iam::333333333333:role/R", ExternalID: "x-1"},
		{ID: "222222222222"},
	}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Target{{ID: "222222222222"}, {ID: "333333333333", RoleARN: "arn:aws:iam::333333333333:role/R", ExternalID: "x-1"}}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("Targets(list) (-want +got):\n%s", diff)
	}
	got, err = Targets(context.Background(), config.Accounts{}, Deps{})
	if err != nil || len(got) != 1 || got[0] != (Target{}) {
		t.Errorf("Targets(default) = %+v, %v; want one unidentified caller target", got, err)
	}
}

func TestTargetsOrganizationErrorsSayWhatToDo(t *testing.T) {
	for code, want := range map[string]string{
		"AWSOrganizationsNotInUseException": "accounts.list",
		"AccessDeniedException":             "management account",
	} {
		org := &erringOrg{err: &smithy.GenericAPIError{Code: code, Message: "no"}}
		_, err := Targets(context.Background(), config.Accounts{Organization: &config.Organization{RoleName: "Audit"}},
			Deps{Organizations: org, STS: &fakeSTS{}})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), code) {
			t.Errorf("%s: Targets() = %v; want the code and %q", code, err, want)
		}
	}
}

type erringOrg struct{ err error }

func (e *erringOrg) ListAccounts(context.Context, *organizations.ListAccountsInput, ...func(*organizations.Options)) (*organizations.ListAccountsOutput, error) {
	return nil, e.err
}
func (e *erringOrg) ListAccountsForParent(context.Context, *organizations.ListAccountsForParentInput, ...func(*organizations.Options)) (*organizations.ListAccountsForParentOutput, error) {
	return nil, e.err
}
func (e *erringOrg) ListOrganizationalUnitsForParent(context.Context, *organizations.ListOrganizationalUnitsForParentInput, ...func(*organizations.Options)) (*organizations.ListOrganizationalUnitsForParentOutput, error) {
	return nil, e.err
}

func TestSelect(t *testing.T) {
	ts := []Target{{ID: "111111111111"}, {ID: "222222222222"}, {ID: "333333333333"}}
	got, err := Select(ts, []string{"333333333333", "111111111111"})
	if err != nil || !slices.Equal(ids(got), []string{"111111111111", "333333333333"}) {
		t.Errorf("Select() = %v, %v; want 111111111111 333333333333", ids(got), err)
	}
	if _, err := Select(ts, []string{"999999999999"}); err == nil || !strings.Contains(err.Error(), "999999999999") {
		t.Errorf("Select(unknown) = %v; want an error naming 999999999999", err)
	}
	if got, err := Select([]Target{{}}, []string{"999999999999"}); err != nil || len(got) != 1 {
		t.Errorf("Select(caller) = %v, %v; want the caller kept (checked once identified)", got, err)
	}
}

// fakeAssumer records AssumeRole inputs.
type fakeAssumer struct {
	in  []sts.AssumeRoleInput
	err error
}

func (f *fakeAssumer) AssumeRole(ctx context.Context, in *sts.AssumeRoleInput, _ ...func(*sts.Options)) (*sts.AssumeRoleOutput, error) {
	f.in = append(f.in, *in)
	if f.err != nil {
		return nil, f.err
	}
	return &sts.AssumeRoleOutput{Credentials: &ststypes.Credentials{
		AccessKeyId: aws.String("ASIA" + aws.ToString(in.RoleArn)[13:25]), SecretAccessKey: aws.String("s"), SessionToken: aws.String("t"),
		Expiration: aws.Time(testExpiry),
	}}, nil
}

var _ stscreds.AssumeRoleAPIClient = (*fakeAssumer)(nil)

// TestConfigAssumesRoleOnceAndCaches: the role, session name and external
// ID are passed to AssumeRole; Check asks at once; the credentials are
// cached (a second Retrieve makes no call); the caller's account keeps the
// base credentials.
func TestConfigAssumesRoleOnceAndCaches(t *testing.T) {
	base := aws.Config{Credentials: credentials.NewStaticCredentialsProvider("AKIACALLER", "s", "")}
	f := &fakeAssumer{}
	tg := Target{ID: "222222222222", RoleARN: "arn:aws:iam::222222222222:role/KeywardenAudit", ExternalID: "ext-1"}
	cfg := Config(base, tg, f, "keywarden-nightly")
	if len(f.in) != 0 {
		t.Fatalf("Config() called AssumeRole %d times; want none before the credentials are needed", len(f.in))
	}
	if err := Check(context.Background(), cfg, tg); err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(f.in) != 1 {
		t.Errorf("AssumeRole calls after Check and Retrieve = %d; want 1 (cached)", len(f.in))
	}
	in := f.in[0]
	if aws.ToString(in.RoleArn) != tg.RoleARN || aws.ToString(in.RoleSessionName) != "keywarden-nightly" || aws.ToString(in.ExternalId) != "ext-1" {
		t.Errorf("AssumeRole(%s, %s, %s); want %s, keywarden-nightly, ext-1", aws.ToString(in.RoleArn), aws.ToString(in.RoleSessionName), aws.ToString(in.ExternalId), tg.RoleARN)
	}
	if creds.AccessKeyID != "ASIA222222222222" {
		t.Errorf("credentials %s; want the assumed role's", creds.AccessKeyID)
	}

	self := Target{ID: caller}
	if got, err := Config(base, self, f, "").Credentials.Retrieve(context.Background()); err != nil || got.AccessKeyID != "AKIACALLER" {
		t.Errorf("Config(caller's account) credentials = %s, %v; want the caller's, AKIACALLER", got.AccessKeyID, err)
	}
	if err := Check(context.Background(), base, self); err != nil || len(f.in) != 1 {
		t.Errorf("Check(caller's account) = %v with %d AssumeRole calls; want nil and no call", err, len(f.in))
	}
}

func TestCheckAccessDeniedSaysWhatToDo(t *testing.T) {
	f := &fakeAssumer{err: &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform sts:AssumeRole"}}
	tg := Target{ID: "222222222222", RoleARN: "arn:aws:iam::222222222222:role/KeywardenAudit"}
	err := Check(context.Background(), Config(aws.Config{}, tg, f, ""), tg)
	var are *AssumeRoleError
	if !errors.As(err, &are) || are.Account != "222222222222" {
		t.Fatalf("Check() = %v; want an *AssumeRoleError for 222222222222", err)
	}
	for _, s := range []string{"account 222222222222", "AccessDenied", "deploy the role", tg.RoleARN} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("Check() = %q; want it to contain %q", err, s)
		}
	}
	if got := aws.ToString(f.in[0].RoleSessionName); got != DefaultSessionName {
		t.Errorf("session name = %q; want %q", got, DefaultSessionName)
	}
}

var testExpiry = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
