package run

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/testenv"
)

// orgFixture is a moto organization whose management account (the
// caller) and members each have one stale key (95 days) and one fresh one.
type orgFixture struct {
	m       *testenv.MotoServer
	proxy   *testenv.Proxy
	org     *testenv.Organization
	keyIDs  map[string]map[string][]string // account → user → key IDs
	callers []string                       // every account, sorted
}

func newOrgFixture(t *testing.T, members int) *orgFixture {
	t.Helper()
	m := testenv.Moto(t)
	fx := &orgFixture{m: m, org: m.CreateOrganization(t, members), keyIDs: map[string]map[string][]string{}}
	seed := func(account string, cfg aws.Config) {
		fx.keyIDs[account] = m.SeedInto(t, cfg, []testenv.SeedUser{
			{Name: "stale-" + account, Keys: []testenv.SeedKey{{AgeDays: 95, LastUsedDaysAgo: 1}}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1},
			{Name: "fresh-" + account, Keys: []testenv.SeedKey{{AgeDays: 5, LastUsedDaysAgo: 1}}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1},
		})
		fx.callers = append(fx.callers, account)
	}
	seed(testenv.AccountID, m.Config(t))
	for _, id := range fx.org.Members {
		seed(id, m.AssumeRoleConfig(t, "arn:aws:iam::"+id+":role/OrganizationAccountAccessRole"))
	}
	slices.Sort(fx.callers)
	fx.proxy = m.NewProxy(t)
	return fx
}

// orgConfig scans the organization through role KeywardenAudit.
// moto's accounts have no password policy, which password_policy would
// report in each (tested in internal/policy and the e2e tests): off here,
// where the tests count each account's findings of its users.
func orgConfig(exclude ...string) *config.Config {
	cfg := config.Default()
	cfg.Accounts.Organization = &config.Organization{RoleName: "KeywardenAudit", Exclude: exclude}
	off := false
	cfg.Rules.PasswordPolicy.Enabled = &off
	return cfg
}

// scanCalls records what Scan handed its callbacks.
type scanCalls struct {
	mu        sync.Mutex
	accounts  []string
	configs   map[string]aws.Config
	snapshots []*inventory.Snapshot
	snapCalls int
}

func (fx *orgFixture) options(t *testing.T, cfg *config.Config, rec *scanCalls) ScanOptions {
	now := time.Now().UTC()
	rec.configs = map[string]aws.Config{}
	return ScanOptions{
		Config: cfg, AsOf: now, Now: now,
		LoadAWSConfig: func(context.Context) (aws.Config, error) { return fx.proxy.Config(t, fx.m), nil },
		OnAccount: func(id string, c aws.Config) {
			rec.mu.Lock()
			defer rec.mu.Unlock()
			rec.accounts = append(rec.accounts, id)
			rec.configs[id] = c
		},
		OnSnapshots: func(s []*inventory.Snapshot) { rec.snapshots = s; rec.snapCalls++ },
	}
}

func accountIDs(as []report.Account) []string {
	var ids []string
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	return ids
}

// TestScanOrganization: every ACTIVE account but the excluded one is
// scanned, members through AssumeRole with keywarden's session name; each
// stale key is reported in its own account with its key ID; OnAccount gets
// each account's own configuration; the calls in each account keep to
// 6 + max(1, ceil(N/1000)) + F + S, with 2 report calls among the 6
// (moto's report is ready when first looked at), and the caller's
// AssumeRole calls are not among them.
func TestScanOrganization(t *testing.T) {
	fx := newOrgFixture(t, 3)
	excluded := fx.org.Members[2]
	rec := &scanCalls{}
	rep, err := Scan(context.Background(), fx.options(t, orgConfig(excluded), rec))
	if err != nil {
		t.Fatal(err)
	}
	want := slices.DeleteFunc(slices.Clone(fx.callers), func(id string) bool { return id == excluded })
	if got := accountIDs(rep.Accounts); !slices.Equal(got, want) {
		t.Fatalf("accounts = %v; want %v (sorted, %s excluded)", got, want, excluded)
	}
	var findings []string
	for _, f := range rep.Findings {
		findings = append(findings, f.Account+" "+f.User+" "+f.Rule)
		if f.User != "stale-"+f.Account {
			t.Errorf("finding for %s in account %s; want only stale-%s there", f.User, f.Account, f.Account)
		}
		if ids := fx.keyIDs[f.Account][f.User]; len(ids) != 1 || f.KeyID != ids[0] {
			t.Errorf("%s/%s key_id = %q; want %v", f.Account, f.User, f.KeyID, ids)
		}
	}
	var wantFindings []string
	for _, id := range want {
		wantFindings = append(wantFindings, id+" stale-"+id+" access_key_age")
	}
	if !slices.Equal(findings, wantFindings) {
		t.Errorf("findings = %q; want %q", findings, wantFindings)
	}

	// The caller's own calls: one GetCallerIdentity to learn its account,
	// ListAccounts, and one AssumeRole per member. They are made in the
	// management account but are not its scan's.
	callerCalls := 1 + fx.proxy.Count("organizations:ListAccounts") + fx.proxy.Count("sts:AssumeRole")
	total := callerCalls
	for _, a := range rep.Accounts {
		budget := 6 + 1 + 1 + 1 // 2 users, 1 with a key finding, 1 page of service credentials (none)
		made := fx.proxy.CountIn(a.ID)
		if a.ID == testenv.AccountID {
			made -= callerCalls
		}
		if a.Status != report.StatusOK || a.Users != 2 || a.APICalls != budget || a.APICalls != made {
			t.Errorf("account %+v: want ok, 2 users, api_calls = the %d requests made in it = %d", a, made, budget)
		}
		total += a.APICalls
	}
	if n := len(fx.proxy.Ops()); n != total {
		t.Errorf("%d requests reached AWS; the accounts' api_calls and the caller's %d add up to %d", n, callerCalls, total)
	}
	var assumed []string
	for _, op := range fx.proxy.Ops() {
		if op.Name() == "sts:AssumeRole" {
			assumed = append(assumed, op.Params.Get("RoleArn"))
			if s := op.Params.Get("RoleSessionName"); s != "keywarden" || op.Account != testenv.AccountID {
				t.Errorf("AssumeRole session %q by account %s; want keywarden, by the caller %s", s, op.Account, testenv.AccountID)
			}
		}
	}
	var wantAssumed []string
	for _, id := range want {
		if id != testenv.AccountID {
			wantAssumed = append(wantAssumed, "arn:aws:iam::"+id+":role/KeywardenAudit")
		}
	}
	slices.Sort(assumed)
	if !slices.Equal(assumed, wantAssumed) {
		t.Errorf("AssumeRole calls = %v; want one per member, the management account none: %v", assumed, wantAssumed)
	}

	if !slices.Equal(rec.accounts, want) {
		t.Errorf("OnAccount calls = %v; want %v, in order", rec.accounts, want)
	}
	for _, id := range want {
		out, err := sts.NewFromConfig(rec.configs[id]).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		if err != nil || aws.ToString(out.Account) != id {
			t.Errorf("OnAccount(%s) config acts in %v (%v); want %s", id, out, err, id)
		}
	}
	if rec.snapCalls != 1 || len(rec.snapshots) != len(want) {
		t.Errorf("OnSnapshots called %d times with %d snapshots; want once with %d", rec.snapCalls, len(rec.snapshots), len(want))
	}
}

// TestScanSharesConnections: the accounts of a scan share one HTTP
// client: with one account read at a time, the second account's first IAM
// request comes on the connection the first account's IAM client opened,
// not on one of its own.
func TestScanSharesConnections(t *testing.T) {
	fx := newOrgFixture(t, 1)
	cfg := orgConfig()
	cfg.Accounts.Parallel = 1
	rep, err := Scan(context.Background(), fx.options(t, cfg, &scanCalls{}))
	if err != nil {
		t.Fatal(err)
	}
	if rep.FailedAccounts() != 0 || len(rep.Accounts) != 2 {
		t.Fatalf("accounts = %+v; want 2, ok", rep.Accounts)
	}
	var generate []testenv.Op
	for _, op := range fx.proxy.Ops() {
		if op.Name() == "iam:GenerateCredentialReport" {
			generate = append(generate, op)
		}
	}
	if len(generate) != 2 || generate[0].Account == generate[1].Account {
		t.Fatalf("GenerateCredentialReport requests %+v; want one in each account", generate)
	}
	if generate[1].Conn != generate[0].Conn {
		t.Errorf("account %s's GenerateCredentialReport came on connection %s, account %s's on %s; want the same: one pool for the scan",
			generate[1].Account, generate[1].Conn, generate[0].Account, generate[0].Conn)
	}
}

// TestScanFailingAccountsAreIsolated: an account whose AssumeRole is
// denied, one whose IAM read is denied and one throttled past the retries
// are each reported with status error and a message naming the account and
// what to do; the other account completes with its findings, and only it
// reaches OnAccount and OnSnapshots.
func TestScanFailingAccountsAreIsolated(t *testing.T) {
	fx := newOrgFixture(t, 3)
	deniedRole, deniedIAM, healthy := fx.org.Members[0], fx.org.Members[1], fx.org.Members[2]
	throttled := testenv.AccountID
	p := fx.proxy
	p.Inject(testenv.Fault{Code: "AccessDenied", Status: http.StatusForbidden,
		Match: func(op testenv.Op) bool {
			return op.Name() == "sts:AssumeRole" && strings.Contains(op.Params.Get("RoleArn"), deniedRole)
		},
		Message: "User: arn:aws:iam::123456789012:user/scanner is not authorized to perform: sts:AssumeRole"})
	p.Inject(testenv.Fault{Match: testenv.InAccount(deniedIAM, "iam:GetAccountAuthorizationDetails"), Code: "AccessDenied", Status: http.StatusForbidden,
		Message: "not authorized to perform: iam:GetAccountAuthorizationDetails"})
	p.Inject(testenv.Fault{Match: testenv.InAccount(throttled, "iam:GetCredentialReport"), Code: "Throttling", Message: "Rate exceeded"})

	cfg := orgConfig()
	cfg.Accounts.MaxAttempts = 2
	rec := &scanCalls{}
	rep, err := Scan(context.Background(), fx.options(t, cfg, rec))
	if err != nil {
		t.Fatal(err)
	}
	if got := accountIDs(rep.Accounts); !slices.Equal(got, fx.callers) {
		t.Fatalf("accounts = %v; want all of %v, failed ones included", got, fx.callers)
	}
	wantErr := map[string][]string{
		deniedRole: {"account " + deniedRole, "AccessDenied", "deploy the role"},
		deniedIAM:  {"account " + deniedIAM, "AccessDenied", "iam:GetAccountAuthorizationDetails", "grant the role"},
		throttled:  {"account " + throttled, "Throttling", "after 2 attempts", "accounts.max_attempts"},
	}
	for _, a := range rep.Accounts {
		if a.ID == healthy {
			if a.Status != report.StatusOK || a.Error != "" || a.Users != 2 {
				t.Errorf("healthy account %+v; want ok with 2 users", a)
			}
			continue
		}
		if a.Status != report.StatusError {
			t.Errorf("account %s status %q; want error", a.ID, a.Status)
		}
		for _, s := range wantErr[a.ID] {
			if !strings.Contains(a.Error, s) {
				t.Errorf("account %s error %q; want it to contain %q", a.ID, a.Error, s)
			}
		}
	}
	if rep.FailedAccounts() != 3 {
		t.Errorf("FailedAccounts() = %d; want 3", rep.FailedAccounts())
	}
	if len(rep.Findings) != 1 || rep.Findings[0].Account != healthy || rep.Findings[0].User != "stale-"+healthy {
		t.Errorf("findings = %+v; want only stale-%s (no findings from partial data)", rep.Findings, healthy)
	}
	if !slices.Equal(rec.accounts, []string{healthy}) {
		t.Errorf("OnAccount calls = %v; want only %s", rec.accounts, healthy)
	}
	if len(rec.snapshots) != 1 || rec.snapshots[0].AccountID != healthy {
		t.Errorf("OnSnapshots got %d snapshots; want only %s's", len(rec.snapshots), healthy)
	}
	if n := p.Count("iam:GetCredentialReport"); n < 2 {
		t.Errorf("GetCredentialReport requests = %d; want the throttled one retried", n)
	}
}

// TestScanStartsEveryReportFirstAndKeepsOrder: with fewer workers than
// accounts, each account's credential report is asked for before any is
// fetched; the slowest account (the first by ID) still comes first in
// the report and in OnAccount.
func TestScanStartsEveryReportFirstAndKeepsOrder(t *testing.T) {
	fx := newOrgFixture(t, 4)
	slow := fx.callers[0]
	fx.proxy.Inject(testenv.Fault{Match: testenv.InAccount(slow, "iam:GetAccountAuthorizationDetails"), Delay: 500 * time.Millisecond})
	cfg := orgConfig()
	cfg.Accounts.Parallel = 2
	rec := &scanCalls{}
	rep, err := Scan(context.Background(), fx.options(t, cfg, rec))
	if err != nil {
		t.Fatal(err)
	}
	if got := accountIDs(rep.Accounts); !slices.Equal(got, fx.callers) {
		t.Errorf("accounts = %v; want %v", got, fx.callers)
	}
	if !slices.Equal(rec.accounts, fx.callers) {
		t.Errorf("OnAccount order = %v; want %v", rec.accounts, fx.callers)
	}
	var order []string
	for _, f := range rep.Findings {
		order = append(order, f.Account)
	}
	if !slices.Equal(order, fx.callers) {
		t.Errorf("findings by account = %v; want %v", order, fx.callers)
	}

	started := map[string]bool{}
	for i, op := range fx.proxy.Ops() {
		switch op.Name() {
		case "iam:GenerateCredentialReport":
			started[op.Account] = true
		case "iam:GetCredentialReport":
			if len(started) != len(fx.callers) {
				t.Fatalf("request %d fetches %s's report while only %d of %d reports were started", i, op.Account, len(started), len(fx.callers))
			}
		}
	}
}

// TestScanAccountSelection: --account limits an organization scan to the
// accounts named; an account the config does not select is an error.
func TestScanAccountSelection(t *testing.T) {
	fx := newOrgFixture(t, 2)
	rec := &scanCalls{}
	o := fx.options(t, orgConfig(), rec)
	o.Accounts = []string{fx.org.Members[1]}
	rep, err := Scan(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := accountIDs(rep.Accounts); !slices.Equal(got, o.Accounts) {
		t.Errorf("accounts = %v; want %v", got, o.Accounts)
	}
	if n := fx.proxy.Count("sts:AssumeRole"); n != 1 {
		t.Errorf("AssumeRole calls = %d; want 1 (the selected account only)", n)
	}
	o.Accounts = []string{"999999999999"}
	if _, err := Scan(context.Background(), o); err == nil || !strings.Contains(err.Error(), "999999999999") {
		t.Errorf("Scan(--account 999999999999) = %v; want an error naming it", err)
	}
}

// TestScanAccountList: listed accounts, one through its role and external
// ID, one (the caller's) with the current credentials; a listed account
// whose credentials turn out to be another account's is an error.
func TestScanAccountList(t *testing.T) {
	fx := newOrgFixture(t, 1)
	member := fx.org.Members[0]
	cfg := config.Default()
	cfg.Accounts.List = []config.AccountTarget{
		{ID: member, RoleARN: "arn:aws:iam::" + member + ":role/Audit", ExternalID: "ext-42"},
		{ID: testenv.AccountID},
		{ID: "333333333333"}, // no role: the caller's credentials, which are not that account's
	}
	rep, err := Scan(context.Background(), fx.options(t, cfg, &scanCalls{}))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]report.Account{}
	for _, a := range rep.Accounts {
		got[a.ID] = a
	}
	if got[member].Status != report.StatusOK || got[testenv.AccountID].Status != report.StatusOK {
		t.Errorf("accounts = %+v; want %s and %s ok", rep.Accounts, member, testenv.AccountID)
	}
	if a := got["333333333333"]; a.Status != report.StatusError || !strings.Contains(a.Error, "belong to account "+testenv.AccountID) {
		t.Errorf("account 333333333333 = %+v; want an error saying the credentials belong to %s", a, testenv.AccountID)
	}
	for _, op := range fx.proxy.Ops() {
		if op.Name() == "sts:AssumeRole" && op.Params.Get("ExternalId") != "ext-42" {
			t.Errorf("AssumeRole ExternalId = %q; want ext-42", op.Params.Get("ExternalId"))
		}
	}
}
