package collect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

const testAccount = "123456789012"

// reportHeader is the header of AWS's credential report.
const reportHeader = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active," +
	"access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service," +
	"access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service," +
	"cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated"

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// reportCSV is a credential report with one row per user, each without a
// password and with active access keys created at the given times.
func reportCSV(users ...reportUser) []byte {
	var b strings.Builder
	b.WriteString(reportHeader + "\n")
	for _, u := range users {
		fmt.Fprintf(&b, "%s,arn:aws:iam::%s:user/%s,%s,false,N/A,N/A,N/A,false", u.name, testAccount, u.name, t0.AddDate(-1, 0, 0).Format(time.RFC3339))
		for slot := range 2 {
			if slot < len(u.keys) {
				fmt.Fprintf(&b, ",true,%s,N/A,N/A,N/A", u.keys[slot].Format(time.RFC3339))
			} else {
				b.WriteString(",false,N/A,N/A,N/A,N/A")
			}
		}
		b.WriteString(",false,N/A,false,N/A\n")
	}
	return []byte(b.String())
}

type reportUser struct {
	name string
	keys []time.Time
}

// fakeIAM serves scripted answers and records every call and its input.
type fakeIAM struct {
	mu    sync.Mutex
	calls []string

	// generate and get are answered in order; the last answer repeats.
	generate   []generateAnswer
	get        []getAnswer
	onGenerate func(n int) // called with the call's number (1-based)

	gaadPages  []*iam.GetAccountAuthorizationDetailsOutput // page i answers marker "m<i>" ("" for 0)
	gaadErr    error                                       // answers every page, when set
	gaadFailed bool                                        // gaadErr was answered
	gaadInputs []iam.GetAccountAuthorizationDetailsInput

	policy    *types.PasswordPolicy
	policyErr error
	aliases   []string
	aliasErr  error

	keys       map[string][][]types.AccessKeyMetadata // user → pages
	keysErr    map[string]error
	keysInputs []iam.ListAccessKeysInput

	summary    map[string]int32 // GetAccountSummary's SummaryMap
	summaryErr error

	// serviceCreds are ListServiceSpecificCredentials' pages (page i
	// answers marker "s<i>"); serviceCredsErr answers every page.
	serviceCreds       [][]types.ServiceSpecificCredentialMetadata
	serviceCredsErr    error
	serviceCredsInputs []iam.ListServiceSpecificCredentialsInput

	certs       map[string][][]types.SigningCertificate // user → pages
	certsErr    map[string]error
	certsInputs []iam.ListSigningCertificatesInput

	sshKeys       map[string][][]types.SSHPublicKeyMetadata // user → pages
	sshKeysErr    map[string]error
	sshKeysInputs []iam.ListSSHPublicKeysInput

	// hold names operations that answer only once their context is done,
	// with its error; returned counts the held calls that have returned.
	hold     map[string]bool
	returned int
	// waitFor names operations that answer only once their channel is
	// closed, or with their context's error if it is done first (counted
	// in cancelled).
	waitFor   map[string]<-chan struct{}
	cancelled int
	// getFailed is closed when a GetCredentialReport answers an error
	// (reportFailed makes it).
	getFailed chan struct{}
	// reportsServed counts GetCredentialReport answers with a report.
	reportsServed int
	// ready, when set, makes GetCredentialReport answer ReportInProgress
	// until it returns true (called without f.mu held).
	ready func() bool
}

type generateAnswer struct {
	state types.ReportStateType
	err   error
}

type getAnswer struct {
	content []byte
	err     error
}

// held answers a call of op with its context's error once it is done,
// when op is held; when op waits for a channel, it returns once the
// channel is closed, or with the context's error if that comes first.
func (f *fakeIAM) held(ctx context.Context, op string) error {
	if ch, ok := f.waitFor[op]; ok {
		select {
		case <-ch:
			return nil
		case <-ctx.Done():
			f.mu.Lock()
			f.cancelled++
			f.mu.Unlock()
			return ctx.Err()
		}
	}
	if !f.hold[op] {
		return nil
	}
	<-ctx.Done()
	f.mu.Lock()
	f.returned++
	f.mu.Unlock()
	return ctx.Err()
}

// reportFailed is closed once a GetCredentialReport has answered an
// error.
func (f *fakeIAM) reportFailed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.getFailed == nil {
		f.getFailed = make(chan struct{})
	}
	return f.getFailed
}

func (f *fakeIAM) record(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, op)
	n := 0
	for _, c := range f.calls {
		if c == op {
			n++
		}
	}
	return n
}

func (f *fakeIAM) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == op {
			n++
		}
	}
	return n
}

func nth[T any](answers []T, n int) T {
	return answers[min(n, len(answers))-1]
}

func (f *fakeIAM) GenerateCredentialReport(ctx context.Context, _ *iam.GenerateCredentialReportInput, _ ...func(*iam.Options)) (*iam.GenerateCredentialReportOutput, error) {
	n := f.record("GenerateCredentialReport")
	if f.onGenerate != nil {
		f.onGenerate(n)
	}
	a := nth(f.generate, n)
	if a.err != nil {
		return nil, a.err
	}
	return &iam.GenerateCredentialReportOutput{State: a.state}, nil
}

func (f *fakeIAM) GetCredentialReport(ctx context.Context, _ *iam.GetCredentialReportInput, _ ...func(*iam.Options)) (*iam.GetCredentialReportOutput, error) {
	n := f.record("GetCredentialReport")
	if err := f.held(ctx, "GetCredentialReport"); err != nil {
		return nil, err
	}
	if f.ready != nil && !f.ready() {
		return nil, &types.CredentialReportNotReadyException{Message: aws.String("Report generation task is in progress")}
	}
	a := nth(f.get, n)
	if a.err != nil {
		f.mu.Lock()
		if f.getFailed != nil {
			select {
			case <-f.getFailed:
			default:
				close(f.getFailed)
			}
		}
		f.mu.Unlock()
		return nil, a.err
	}
	f.mu.Lock()
	f.reportsServed++
	f.mu.Unlock()
	return &iam.GetCredentialReportOutput{Content: a.content, GeneratedTime: aws.Time(t0), ReportFormat: types.ReportFormatTypeTextCsv}, nil
}

func (f *fakeIAM) GetAccountAuthorizationDetails(ctx context.Context, in *iam.GetAccountAuthorizationDetailsInput, _ ...func(*iam.Options)) (*iam.GetAccountAuthorizationDetailsOutput, error) {
	f.record("GetAccountAuthorizationDetails")
	if err := f.held(ctx, "GetAccountAuthorizationDetails"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.gaadInputs = append(f.gaadInputs, *in)
	if f.gaadErr != nil {
		f.gaadFailed = true
		f.mu.Unlock()
		return nil, f.gaadErr
	}
	f.mu.Unlock()
	page := 0
	if m := aws.ToString(in.Marker); m != "" {
		if _, err := fmt.Sscanf(m, "m%d", &page); err != nil {
			return nil, fmt.Errorf("fake: bad marker %q", m)
		}
	}
	if len(f.gaadPages) == 0 {
		return &iam.GetAccountAuthorizationDetailsOutput{}, nil
	}
	out := *f.gaadPages[page]
	if page+1 < len(f.gaadPages) {
		out.IsTruncated = true
		out.Marker = aws.String(fmt.Sprintf("m%d", page+1))
	}
	return &out, nil
}

func (f *fakeIAM) GetAccountPasswordPolicy(ctx context.Context, _ *iam.GetAccountPasswordPolicyInput, _ ...func(*iam.Options)) (*iam.GetAccountPasswordPolicyOutput, error) {
	f.record("GetAccountPasswordPolicy")
	if err := f.held(ctx, "GetAccountPasswordPolicy"); err != nil {
		return nil, err
	}
	if f.policyErr != nil {
		return nil, f.policyErr
	}
	if f.policy == nil {
		return nil, &types.NoSuchEntityException{Message: aws.String("The Password Policy with domain name 123456789012 cannot be found.")}
	}
	return &iam.GetAccountPasswordPolicyOutput{PasswordPolicy: f.policy}, nil
}

func (f *fakeIAM) ListAccountAliases(ctx context.Context, _ *iam.ListAccountAliasesInput, _ ...func(*iam.Options)) (*iam.ListAccountAliasesOutput, error) {
	f.record("ListAccountAliases")
	if err := f.held(ctx, "ListAccountAliases"); err != nil {
		return nil, err
	}
	if f.aliasErr != nil {
		return nil, f.aliasErr
	}
	return &iam.ListAccountAliasesOutput{AccountAliases: f.aliases}, nil
}

func (f *fakeIAM) ListAccessKeys(ctx context.Context, in *iam.ListAccessKeysInput, _ ...func(*iam.Options)) (*iam.ListAccessKeysOutput, error) {
	f.record("ListAccessKeys")
	f.mu.Lock()
	f.keysInputs = append(f.keysInputs, *in)
	f.mu.Unlock()
	user := aws.ToString(in.UserName)
	if err := f.keysErr[user]; err != nil {
		return nil, err
	}
	pages := f.keys[user]
	if len(pages) == 0 {
		return &iam.ListAccessKeysOutput{}, nil
	}
	page := 0
	if m := aws.ToString(in.Marker); m != "" {
		fmt.Sscanf(m, "k%d", &page)
	}
	out := &iam.ListAccessKeysOutput{AccessKeyMetadata: pages[page]}
	if page+1 < len(pages) {
		out.IsTruncated = true
		out.Marker = aws.String(fmt.Sprintf("k%d", page+1))
	}
	return out, nil
}

func (f *fakeIAM) GetAccountSummary(ctx context.Context, _ *iam.GetAccountSummaryInput, _ ...func(*iam.Options)) (*iam.GetAccountSummaryOutput, error) {
	f.record("GetAccountSummary")
	if err := f.held(ctx, "GetAccountSummary"); err != nil {
		return nil, err
	}
	if f.summaryErr != nil {
		return nil, f.summaryErr
	}
	return &iam.GetAccountSummaryOutput{SummaryMap: f.summary}, nil
}

func (f *fakeIAM) ListServiceSpecificCredentials(ctx context.Context, in *iam.ListServiceSpecificCredentialsInput, _ ...func(*iam.Options)) (*iam.ListServiceSpecificCredentialsOutput, error) {
	f.record("ListServiceSpecificCredentials")
	if err := f.held(ctx, "ListServiceSpecificCredentials"); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.serviceCredsInputs = append(f.serviceCredsInputs, *in)
	f.mu.Unlock()
	if f.serviceCredsErr != nil {
		return nil, f.serviceCredsErr
	}
	page := 0
	if m := aws.ToString(in.Marker); m != "" {
		if _, err := fmt.Sscanf(m, "s%d", &page); err != nil {
			return nil, fmt.Errorf("fake: bad marker %q", m)
		}
	}
	if len(f.serviceCreds) == 0 {
		return &iam.ListServiceSpecificCredentialsOutput{}, nil
	}
	out := &iam.ListServiceSpecificCredentialsOutput{ServiceSpecificCredentials: f.serviceCreds[page]}
	if page+1 < len(f.serviceCreds) {
		out.IsTruncated = true
		out.Marker = aws.String(fmt.Sprintf("s%d", page+1))
	}
	return out, nil
}

// userPages answers a per-user listing from pages by marker ("p<i>").
func userPages[T any](pages [][]T, marker *string) (items []T, next *string) {
	if len(pages) == 0 {
		return nil, nil
	}
	page := 0
	if m := aws.ToString(marker); m != "" {
		fmt.Sscanf(m, "p%d", &page)
	}
	if page+1 < len(pages) {
		next = aws.String(fmt.Sprintf("p%d", page+1))
	}
	return pages[page], next
}

func (f *fakeIAM) ListSigningCertificates(ctx context.Context, in *iam.ListSigningCertificatesInput, _ ...func(*iam.Options)) (*iam.ListSigningCertificatesOutput, error) {
	f.record("ListSigningCertificates")
	f.mu.Lock()
	f.certsInputs = append(f.certsInputs, *in)
	f.mu.Unlock()
	user := aws.ToString(in.UserName)
	if err := f.certsErr[user]; err != nil {
		return nil, err
	}
	certs, next := userPages(f.certs[user], in.Marker)
	return &iam.ListSigningCertificatesOutput{Certificates: certs, IsTruncated: next != nil, Marker: next}, nil
}

func (f *fakeIAM) ListSSHPublicKeys(ctx context.Context, in *iam.ListSSHPublicKeysInput, _ ...func(*iam.Options)) (*iam.ListSSHPublicKeysOutput, error) {
	f.record("ListSSHPublicKeys")
	f.mu.Lock()
	f.sshKeysInputs = append(f.sshKeysInputs, *in)
	f.mu.Unlock()
	user := aws.ToString(in.UserName)
	if err := f.sshKeysErr[user]; err != nil {
		return nil, err
	}
	keys, next := userPages(f.sshKeys[user], in.Marker)
	return &iam.ListSSHPublicKeysOutput{SSHPublicKeys: keys, IsTruncated: next != nil, Marker: next}, nil
}

type fakeSTS struct {
	err   error
	calls int
}

func (f *fakeSTS) GetCallerIdentity(ctx context.Context, _ *sts.GetCallerIdentityInput, _ ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	return &sts.GetCallerIdentityOutput{Account: aws.String(testAccount), Arn: aws.String("arn:aws:iam::" + testAccount + ":user/scanner")}, nil
}

// newCollector is a collector over the fakes with tiny poll intervals and
// the default cap on report calls.
func newCollector(t *testing.T, f *fakeIAM) *Collector {
	return &Collector{
		IAM: f, STS: &fakeSTS{},
		Logger:      slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		PollInitial: time.Microsecond, PollMax: 4 * time.Microsecond,
		// The default cap: the tiny schedule could look millions of times
		// within MaxWait.
		MaxReportCalls: DefaultMaxReportCalls,
	}
}

// completeFake is a fake whose report is ready at once.
func completeFake(report []byte) *fakeIAM {
	return &fakeIAM{
		generate: []generateAnswer{{state: types.ReportStateTypeComplete}},
		get:      []getAnswer{{content: report}},
	}
}

func userDetail(name, path string, tags map[string]string, groups ...string) types.UserDetail {
	d := types.UserDetail{UserName: aws.String(name), Path: aws.String(path), GroupList: groups}
	for k, v := range tags {
		d.Tags = append(d.Tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return d
}

func TestSnapshotJoinsAllGAADPages(t *testing.T) {
	f := completeFake(reportCSV(
		reportUser{name: "alice"}, reportUser{name: "bob"}, reportUser{name: "carol"},
		reportUser{name: "gone"}, // deleted after the report
	))
	f.gaadPages = []*iam.GetAccountAuthorizationDetailsOutput{
		{UserDetailList: []types.UserDetail{userDetail("alice", "/", nil)}},
		{UserDetailList: []types.UserDetail{userDetail("bob", "/eng/", map[string]string{"Team": "eng"}, "devs")}},
		{UserDetailList: []types.UserDetail{
			userDetail("carol", "/ops/", map[string]string{"UserType": "machine", "Email": "ops@example.com"}, "ops", "deploy"),
			userDetail("newer", "/", nil), // created after the report
		}},
	}
	snap, err := newCollector(t, f).Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	type view struct {
		Name, Path string
		Tags       map[string]string
		Groups     []string
	}
	var got []view
	for _, u := range snap.Users {
		got = append(got, view{u.Name, u.Path, u.Tags, u.Groups})
	}
	want := []view{
		{Name: "alice", Path: "/"},
		{Name: "bob", Path: "/eng/", Tags: map[string]string{"Team": "eng"}, Groups: []string{"devs"}},
		{Name: "carol", Path: "/ops/", Tags: map[string]string{"UserType": "machine", "Email": "ops@example.com"}, Groups: []string{"deploy", "ops"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Snapshot users (-want +got):\n%s", diff)
	}

	var markers []string
	for i, in := range f.gaadInputs {
		markers = append(markers, aws.ToString(in.Marker))
		if len(in.Filter) != 1 || in.Filter[0] != types.EntityTypeUser || aws.ToInt32(in.MaxItems) != 1000 {
			t.Errorf("GetAccountAuthorizationDetails call %d: Filter=%v MaxItems=%d; want [User] 1000", i+1, in.Filter, aws.ToInt32(in.MaxItems))
		}
	}
	if diff := cmp.Diff([]string{"", "m1", "m2"}, markers); diff != "" {
		t.Errorf("GetAccountAuthorizationDetails markers (-want +got):\n%s", diff)
	}
}

func TestSnapshotReportStates(t *testing.T) {
	report := reportCSV(reportUser{name: "alice"})
	notPresent := &types.CredentialReportNotPresentException{Message: aws.String("no report")}
	for _, tc := range []struct {
		name                  string
		generate              []generateAnswer
		get                   []getAnswer
		wantGenerate, wantGet int
		wantErr               string // "" for success
		wantErrAs             any    // optional: errors.As target
	}{
		{
			name:         "started: look at the report until it is ready",
			generate:     []generateAnswer{{state: types.ReportStateTypeStarted}},
			get:          []getAnswer{{err: &types.CredentialReportNotReadyException{}}, {err: &types.CredentialReportNotReadyException{}}, {content: report}},
			wantGenerate: 1, wantGet: 3,
		},
		{
			name:         "in progress: look at the report, not ask for another",
			generate:     []generateAnswer{{state: types.ReportStateTypeInprogress}},
			get:          []getAnswer{{content: report}},
			wantGenerate: 1, wantGet: 1,
		},
		{
			name:         "limit exceeded, then started",
			generate:     []generateAnswer{{err: &types.LimitExceededException{Message: aws.String("No more capacity to launch new report generation tasks")}}, {state: types.ReportStateTypeStarted}},
			get:          []getAnswer{{err: &types.CredentialReportNotReadyException{}}, {content: report}},
			wantGenerate: 2, wantGet: 2,
		},
		{
			name:         "never ready: bounded by the report calls",
			generate:     []generateAnswer{{state: types.ReportStateTypeStarted}},
			get:          []getAnswer{{err: &types.CredentialReportNotReadyException{}}},
			wantGenerate: 1, wantGet: DefaultMaxReportCalls - 1,
			wantErr: fmt.Sprintf("generate credential report: credential report not ready after %d GenerateCredentialReport and GetCredentialReport calls in ", DefaultMaxReportCalls),
		},
		{
			name:         "limit exceeded every time: bounded by the report calls",
			generate:     []generateAnswer{{err: &types.LimitExceededException{Message: aws.String("slow down")}}},
			wantGenerate: DefaultMaxReportCalls, wantGet: 0,
			wantErr: fmt.Sprintf("generate credential report: credential report not ready after %d GenerateCredentialReport and GetCredentialReport calls in ", DefaultMaxReportCalls),
		},
		{
			name:         "limit exceeded, then complete",
			generate:     []generateAnswer{{err: &types.LimitExceededException{Message: aws.String("slow down")}}, {state: types.ReportStateTypeComplete}},
			get:          []getAnswer{{content: report}},
			wantGenerate: 2, wantGet: 1,
		},
		{
			name:         "report in progress on generate, then complete",
			generate:     []generateAnswer{{err: &types.CredentialReportNotReadyException{}}, {state: types.ReportStateTypeComplete}},
			get:          []getAnswer{{content: report}},
			wantGenerate: 2, wantGet: 1,
		},
		{
			name:         "report not present on get: generate again",
			generate:     []generateAnswer{{state: types.ReportStateTypeComplete}},
			get:          []getAnswer{{err: notPresent}, {content: report}},
			wantGenerate: 2, wantGet: 2,
		},
		{
			name:         "report expired on get: generate again",
			generate:     []generateAnswer{{state: types.ReportStateTypeComplete}},
			get:          []getAnswer{{err: &types.CredentialReportExpiredException{}}, {content: report}},
			wantGenerate: 2, wantGet: 2,
		},
		{
			name:         "report in progress on get: wait",
			generate:     []generateAnswer{{state: types.ReportStateTypeComplete}},
			get:          []getAnswer{{err: &types.CredentialReportNotReadyException{}}, {err: &types.CredentialReportNotReadyException{}}, {content: report}},
			wantGenerate: 1, wantGet: 3,
		},
		{
			name:     "generic API error code ReportInProgress: wait",
			generate: []generateAnswer{{state: types.ReportStateTypeComplete}},
			get: []getAnswer{
				{err: &smithy.GenericAPIError{Code: "ReportInProgress", Message: "still going"}},
				{content: report},
			},
			wantGenerate: 1, wantGet: 2,
		},
		{
			name:         "report never present: bounded",
			generate:     []generateAnswer{{state: types.ReportStateTypeComplete}},
			get:          []getAnswer{{err: notPresent}},
			wantGenerate: maxRegenerations + 1, wantGet: maxRegenerations + 1,
			wantErr:   "get credential report (generated 4 times): ReportNotPresent: no report",
			wantErrAs: new(*types.CredentialReportNotPresentException),
		},
		{
			name:         "generate fails",
			generate:     []generateAnswer{{err: &types.ServiceFailureException{Message: aws.String("boom")}}},
			wantGenerate: 1, wantGet: 0,
			wantErr:   "generate credential report: ServiceFailure: boom",
			wantErrAs: new(*types.ServiceFailureException),
		},
		{
			name:         "get fails",
			generate:     []generateAnswer{{state: types.ReportStateTypeComplete}},
			get:          []getAnswer{{err: &smithy.GenericAPIError{Code: "AccessDenied", Message: "not allowed"}}},
			wantGenerate: 1, wantGet: 1,
			wantErr: "get credential report: api error AccessDenied: not allowed",
		},
		{
			name:         "report does not parse",
			generate:     []generateAnswer{{state: types.ReportStateTypeComplete}},
			get:          []getAnswer{{content: []byte("user,arn\nalice,arn:aws:iam::123456789012:user/alice\n")}},
			wantGenerate: 1, wantGet: 1,
			wantErr: "parse credential report of account 123456789012: ",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeIAM{generate: tc.generate, get: tc.get, gaadPages: []*iam.GetAccountAuthorizationDetailsOutput{{UserDetailList: []types.UserDetail{userDetail("alice", "/", nil)}}}}
			snap, err := newCollector(t, f).Snapshot(context.Background())
			if got := f.count("GenerateCredentialReport"); got != tc.wantGenerate {
				t.Errorf("GenerateCredentialReport calls = %d; want %d", got, tc.wantGenerate)
			}
			if got := f.count("GetCredentialReport"); got != tc.wantGet {
				t.Errorf("GetCredentialReport calls = %d; want %d", got, tc.wantGet)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Snapshot() = %v; want no error", err)
				}
				if len(snap.Users) != 1 || snap.Users[0].Name != "alice" || !snap.ReportGeneratedAt.Equal(t0) {
					t.Errorf("Snapshot() users=%v generated=%v; want [alice] %v", snap.Users, snap.ReportGeneratedAt, t0)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Fatalf("Snapshot() = %v; want an error starting %q", err, tc.wantErr)
			}
			if tc.wantErrAs != nil && !errors.As(err, tc.wantErrAs) {
				t.Errorf("Snapshot() = %v; want it to wrap %T", err, tc.wantErrAs)
			}
		})
	}
}

func TestSnapshotCancelDuringPoll(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &fakeIAM{
		generate: []generateAnswer{{state: types.ReportStateTypeStarted}},
		// Cancel from outside while the collector goes on to wait; the
		// poll interval is an hour, so only a wait that honours ctx
		// returns. The authorization details, read meanwhile, answer only
		// when cancelled.
		onGenerate: func(n int) {
			if n == 1 {
				go cancel()
			}
		},
		hold: map[string]bool{"GetAccountAuthorizationDetails": true},
	}
	c := newCollector(t, f)
	c.PollInitial, c.PollMax = time.Hour, time.Hour
	_, err := snapshotWithin(t, c, ctx)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Snapshot() after cancel = %v; want context.Canceled", err)
	}
	// Every read ended with the context: the first in order, the
	// authorization details, says so.
	if want := "get account authorization details (page 1): context canceled"; err == nil || err.Error() != want {
		t.Errorf("Snapshot() after cancel = %q; want %q, saying what was cancelled", err, want)
	}
	if n := f.count("GenerateCredentialReport"); n != 1 {
		t.Errorf("GenerateCredentialReport calls = %d; want 1 (no call after cancel)", n)
	}
	if n := f.count("GetCredentialReport"); n != 0 {
		t.Errorf("GetCredentialReport calls = %d; want 0", n)
	}
	if n := f.count("GetAccountAuthorizationDetails"); f.returned != n {
		t.Errorf("%d of %d held GetAccountAuthorizationDetails calls had returned when Snapshot did; want all", f.returned, n)
	}
}

// snapshotWithin runs c.Snapshot, failing the test if it has not returned
// within a minute: a guard against hanging, not a timing assertion.
func snapshotWithin(t *testing.T, c *Collector, ctx context.Context) (*inventory.Snapshot, error) {
	t.Helper()
	type result struct {
		snap *inventory.Snapshot
		err  error
	}
	done := make(chan result, 1)
	go func() {
		snap, err := c.Snapshot(ctx)
		done <- result{snap, err}
	}()
	select {
	case r := <-done:
		return r.snap, r.err
	case <-time.After(time.Minute):
		t.Fatal("Snapshot did not return within a minute (a held read was not cancelled, or a wait ignored its context)")
		return nil, nil
	}
}

func TestSnapshotMaxWait(t *testing.T) {
	f := &fakeIAM{generate: []generateAnswer{{state: types.ReportStateTypeInprogress}}}
	c := newCollector(t, f)
	c.PollInitial, c.PollMax = time.Hour, time.Hour
	c.MaxWait = time.Millisecond
	_, err := c.Snapshot(context.Background())
	if want := "generate credential report: credential report not ready after 1ms"; err == nil || err.Error() != want {
		t.Errorf("Snapshot() with MaxWait 1ms = %v; want %q", err, want)
	}
}

func TestSnapshotPasswordPolicy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy *types.PasswordPolicy // nil: NoSuchEntity
		want   *inventory.PasswordPolicy
	}{
		{"no policy", nil, nil},
		{"expiring passwords", &types.PasswordPolicy{ExpirePasswords: true, MaxPasswordAge: aws.Int32(90), HardExpiry: aws.Bool(true)}, &inventory.PasswordPolicy{MaxPasswordAge: 90, HardExpiry: true}},
		{"passwords never expire", &types.PasswordPolicy{MinimumPasswordLength: aws.Int32(14)}, &inventory.PasswordPolicy{MinimumLength: 14}},
		// What password_policy checks (CIS 1.8, 1.9).
		{"length and reuse", &types.PasswordPolicy{MinimumPasswordLength: aws.Int32(14), PasswordReusePrevention: aws.Int32(24)},
			&inventory.PasswordPolicy{MinimumLength: 14, ReusePrevention: 24}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := completeFake(reportCSV())
			f.policy = tc.policy
			snap, err := newCollector(t, f).Snapshot(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !snap.PasswordPolicyKnown {
				t.Error("Snapshot().PasswordPolicyKnown = false; want true")
			}
			if diff := cmp.Diff(tc.want, snap.PasswordPolicy); diff != "" {
				t.Errorf("Snapshot().PasswordPolicy (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("access denied", func(t *testing.T) {
		f := completeFake(reportCSV())
		f.policyErr = &smithy.GenericAPIError{Code: "AccessDenied", Message: "no"}
		_, err := newCollector(t, f).Snapshot(context.Background())
		if want := "get account password policy: api error AccessDenied: no"; err == nil || err.Error() != want {
			t.Errorf("Snapshot() = %v; want %q", err, want)
		}
	})
}

func TestSnapshotAlias(t *testing.T) {
	for _, tc := range []struct {
		name      string
		aliases   []string
		err       error
		wantAlias string
		wantErr   string
	}{
		{name: "first alias", aliases: []string{"prod", "other"}, wantAlias: "prod"},
		{name: "no alias"},
		{name: "access denied: no alias", err: &smithy.GenericAPIError{Code: "AccessDenied", Message: "no"}},
		{name: "other error", err: &types.ServiceFailureException{Message: aws.String("down")}, wantErr: "list account aliases: ServiceFailure: down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := completeFake(reportCSV())
			f.aliases, f.aliasErr = tc.aliases, tc.err
			snap, err := newCollector(t, f).Snapshot(context.Background())
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Errorf("Snapshot() = %v; want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if snap.AccountAlias != tc.wantAlias {
				t.Errorf("Snapshot().AccountAlias = %q; want %q", snap.AccountAlias, tc.wantAlias)
			}
		})
	}
}

func TestSnapshotCredentialsError(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		wantHint bool
	}{
		{"no credentials found", errors.New("operation error STS: GetCallerIdentity, get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found"), true},
		{"invalid key", &smithy.GenericAPIError{Code: "InvalidClientTokenId", Message: "The security token included in the request is invalid."}, true},
		{"expired token", &smithy.GenericAPIError{Code: "ExpiredToken", Message: "The security token included in the request is expired"}, true},
		{"network", errors.New("operation error STS: GetCallerIdentity, https response error: dial tcp 127.0.0.1:1: connect: connection refused"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := completeFake(reportCSV())
			c := newCollector(t, f)
			c.STS = &fakeSTS{err: tc.err}
			_, err := c.Snapshot(context.Background())
			if err == nil {
				t.Fatal("Snapshot() = nil error; want one")
			}
			if !strings.Contains(err.Error(), tc.err.Error()) || !errors.Is(err, tc.err) {
				t.Errorf("Snapshot() = %q; want it to keep the SDK's error %q", err, tc.err)
			}
			var ce *CredentialsError
			if got := errors.As(err, &ce) && strings.HasSuffix(err.Error(), CredentialsHint); got != tc.wantHint {
				t.Errorf("Snapshot() = %q: says what to do next = %v; want %v", err, got, tc.wantHint)
			}
			if len(f.calls) != 0 {
				t.Errorf("IAM calls after failed credentials check = %v; want none", f.calls)
			}
		})
	}
}

// TestSnapshotNoCredentialsSDK checks the hint against the real SDK's error
// when no credentials can be found (it fails before sending anything).
func TestSnapshotNoCredentialsSDK(t *testing.T) {
	noCreds := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("failed to refresh cached credentials, no EC2 IMDS role found")
	})
	c := newCollector(t, completeFake(reportCSV()))
	c.STS = sts.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: noCreds, BaseEndpoint: aws.String("http://127.0.0.1:1"), RetryMaxAttempts: 1})
	_, err := c.Snapshot(context.Background())
	t.Logf("Snapshot() without credentials: %v", err)
	var ce *CredentialsError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "no EC2 IMDS role found") || !strings.HasSuffix(err.Error(), CredentialsHint) {
		t.Errorf("Snapshot() without credentials = %v; want the SDK's message and %q", err, CredentialsHint)
	}
}

// TestSnapshotCallBudget checks the calls Snapshot makes: exactly
// 4 + R + max(1, ceil(N/1000)) + S, R = 2 report calls, with a report that
// is STARTED at first and ready when first looked at (as moto answers),
// and S the pages of service-specific credentials, max(1, ceil(C/1000))
// for C credentials: the 6 + ceil(N/1000) + F + S before key IDs
// (F). An account without users still gets one
// GetAccountAuthorizationDetails call: it is made while the report, which
// says how many users there are, is generated; and one
// ListServiceSpecificCredentials, which says there are none.
func TestSnapshotCallBudget(t *testing.T) {
	for _, tc := range []struct {
		name         string
		users, creds int
		pages        int
	}{
		{"empty account", 0, 0, 1},
		{"one page", 3, 2, 1},
		{"three pages", 2500, 2500, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ru []reportUser
			pages := []*iam.GetAccountAuthorizationDetailsOutput{{}}
			for i := range tc.users {
				name := fmt.Sprintf("user%04d", i)
				ru = append(ru, reportUser{name: name})
				if i > 0 && i%1000 == 0 {
					pages = append(pages, &iam.GetAccountAuthorizationDetailsOutput{})
				}
				pages[len(pages)-1].UserDetailList = append(pages[len(pages)-1].UserDetailList, userDetail(name, "/", nil))
			}
			var credPages [][]types.ServiceSpecificCredentialMetadata
			for i := range tc.creds {
				if i%serviceCredentialPageSize == 0 {
					credPages = append(credPages, nil)
				}
				credPages[len(credPages)-1] = append(credPages[len(credPages)-1],
					serviceCred(fmt.Sprintf("user%04d", i), fmt.Sprintf("ACCA%04d", i), "codecommit.amazonaws.com", t0, nil, types.StatusTypeActive))
			}
			f := &fakeIAM{
				generate:     []generateAnswer{{state: types.ReportStateTypeStarted}},
				get:          []getAnswer{{content: reportCSV(ru...)}},
				gaadPages:    pages,
				serviceCreds: credPages,
			}
			c := newCollector(t, f)
			snap, err := c.Snapshot(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(snap.Users) != tc.users {
				t.Errorf("Snapshot() has %d users; want %d", len(snap.Users), tc.users)
			}
			s := max(1, (tc.creds+serviceCredentialPageSize-1)/serviceCredentialPageSize)
			budget := 4 + 2 + max(1, (tc.users+999)/1000) + s
			calls := len(f.calls) + c.STS.(*fakeSTS).calls
			if calls != budget {
				t.Errorf("Snapshot() of %d users, %d service credentials made %d calls %v; want 4 + 2 + max(1, ceil(%d/1000)) + %d = %d",
					tc.users, tc.creds, calls, f.calls, tc.users, s, budget)
			}
			if got := f.count("GetAccountAuthorizationDetails"); got != tc.pages {
				t.Errorf("GetAccountAuthorizationDetails calls = %d; want %d", got, tc.pages)
			}
			if got := f.count("ListServiceSpecificCredentials"); got != s {
				t.Errorf("ListServiceSpecificCredentials calls = %d; want %d", got, s)
			}
		})
	}
}

func key(id string, created time.Time, active bool) types.AccessKeyMetadata {
	return types.AccessKeyMetadata{AccessKeyId: aws.String(id), CreateDate: aws.Time(created), Status: statusOf(active)}
}

// statusOf is IAM's status of an active or inactive credential.
func statusOf(active bool) types.StatusType {
	if active {
		return types.StatusTypeActive
	}
	return types.StatusTypeInactive
}

func TestResolveKeyIDs(t *testing.T) {
	older, newer := t0.AddDate(0, 0, -100), t0.AddDate(0, 0, -10)
	slot := func(n int, created time.Time, active bool) inventory.AccessKey {
		return inventory.AccessKey{Slot: n, CreatedAt: created, Active: active}
	}
	snap := &inventory.Snapshot{AccountID: testAccount, Users: []inventory.User{
		// Two keys, listed newest first: matched by creation time.
		{Name: "two", AccessKeys: []inventory.AccessKey{slot(1, older, true), slot(2, newer, true)}},
		// Two keys created in the same second: told apart by status.
		{Name: "same-second", AccessKeys: []inventory.AccessKey{slot(1, older, false), slot(2, older, true)}},
		// The report's time is off (rotated since): one left each side, paired.
		{Name: "lone", AccessKeys: []inventory.AccessKey{slot(1, older, true)}},
		// Two slots, neither matching: left unresolved.
		{Name: "mismatch", AccessKeys: []inventory.AccessKey{slot(1, older, true), slot(2, newer, true)}},
		// Keys on two pages.
		{Name: "paged", AccessKeys: []inventory.AccessKey{slot(1, older, true), slot(2, newer, true)}},
		{Name: "deleted", AccessKeys: []inventory.AccessKey{slot(1, older, true)}},
		{Name: "not-asked", AccessKeys: []inventory.AccessKey{slot(1, older, true)}},
		{Name: "no-keys"},
	}}
	f := &fakeIAM{
		keys: map[string][][]types.AccessKeyMetadata{
			"two":         {{key("AKIANEW", newer.Add(300*time.Millisecond), true), key("AKIAOLD", older, true)}},
			"same-second": {{key("AKIAACTIVE", older, true), key("AKIAINACTIVE", older.Add(time.Millisecond), false)}},
			"lone":        {{key("AKIALONE", older.Add(time.Hour), true)}},
			"mismatch":    {{key("AKIAX", older.Add(time.Hour), true), key("AKIAY", newer.Add(time.Hour), true)}},
			"paged":       {{key("AKIAP2", newer, true)}, {key("AKIAP1", older, true)}},
		},
		keysErr: map[string]error{"deleted": &types.NoSuchEntityException{Message: aws.String("gone")}},
	}
	c := newCollector(t, f)
	c.KeyLookupParallel = 2
	err := c.ResolveKeyIDs(context.Background(), snap, []string{"two", "same-second", "lone", "mismatch", "paged", "deleted", "no-keys", "unknown", "two"})
	if err != nil {
		t.Fatal(err)
	}

	got := map[string][]string{}
	for _, u := range snap.Users {
		for _, k := range u.AccessKeys {
			got[u.Name] = append(got[u.Name], k.ID)
		}
	}
	want := map[string][]string{
		"two":         {"AKIAOLD", "AKIANEW"},
		"same-second": {"AKIAINACTIVE", "AKIAACTIVE"},
		"lone":        {"AKIALONE"},
		"mismatch":    {"", ""},
		"paged":       {"AKIAP1", "AKIAP2"},
		"deleted":     {""},
		"not-asked":   {""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("key IDs after ResolveKeyIDs (-want +got):\n%s", diff)
	}

	// One call per asked user with keys (two pages for "paged"), none for
	// the user without keys, the unknown one or the duplicate.
	perUser := map[string]int{}
	for _, in := range f.keysInputs {
		perUser[aws.ToString(in.UserName)]++
	}
	wantCalls := map[string]int{"two": 1, "same-second": 1, "lone": 1, "mismatch": 1, "paged": 2, "deleted": 1}
	if diff := cmp.Diff(wantCalls, perUser); diff != "" {
		t.Errorf("ListAccessKeys calls per user (-want +got):\n%s", diff)
	}
}

func TestResolveKeyIDsError(t *testing.T) {
	snap := &inventory.Snapshot{AccountID: testAccount, Users: []inventory.User{
		{Name: "alice", AccessKeys: []inventory.AccessKey{{Slot: 1, CreatedAt: t0, Active: true}}},
	}}
	f := &fakeIAM{keysErr: map[string]error{"alice": &smithy.GenericAPIError{Code: "AccessDenied", Message: "no"}}}
	err := newCollector(t, f).ResolveKeyIDs(context.Background(), snap, []string{"alice"})
	if want := "list access keys of alice in account 123456789012: api error AccessDenied: no"; err == nil || err.Error() != want {
		t.Errorf("ResolveKeyIDs() = %v; want %q", err, want)
	}
}

// TestBeginThenSnapshot: Begin asks for the report once; Snapshot does
// not ask again when IAM took the request (COMPLETE: a report under four
// hours old, which IAM reuses, read at once; STARTED: looked at after a
// backoff), and asks again after a backoff when IAM did not
// (LimitExceeded).
// TestSnapshotLooksAtOnceAfterLongFirstPass: a report asked for (Begin,
// STARTED) longer ago than the first wait is looked at once when Snapshot
// comes, not after a wait the size of the time spent (the poll interval
// is an hour: Snapshot returns only if it looks at once).
func TestSnapshotLooksAtOnceAfterLongFirstPass(t *testing.T) {
	f := &fakeIAM{
		generate:  []generateAnswer{{state: types.ReportStateTypeStarted}},
		get:       []getAnswer{{content: reportCSV(reportUser{name: "alice"})}},
		gaadPages: []*iam.GetAccountAuthorizationDetailsOutput{{UserDetailList: []types.UserDetail{userDetail("alice", "/", nil)}}},
	}
	c := newCollector(t, f)
	c.PollInitial, c.PollMax = time.Hour, 100*time.Hour
	if _, err := c.Begin(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The other accounts' first pass took 61 minutes.
	c.begun.at = c.begun.at.Add(-61 * time.Minute)
	snap, err := snapshotWithin(t, c, context.Background())
	if err != nil || len(snap.Users) != 1 {
		t.Fatalf("Snapshot() = %v, %v; want alice's account", snap, err)
	}
	if n := f.count("GetCredentialReport"); n != 1 {
		t.Errorf("GetCredentialReport calls = %d; want 1", n)
	}
}

func TestBeginThenSnapshot(t *testing.T) {
	report := reportCSV(reportUser{name: "alice"})
	for _, tc := range []struct {
		name         string
		generate     []generateAnswer
		wantGenerate int
	}{
		{"complete at once: reused", []generateAnswer{{state: types.ReportStateTypeComplete}}, 1},
		{"started: not asked again", []generateAnswer{{state: types.ReportStateTypeStarted}}, 1},
		{"limit exceeded, then complete", []generateAnswer{{err: &types.LimitExceededException{Message: aws.String("slow down")}}, {state: types.ReportStateTypeComplete}}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeIAM{generate: tc.generate, get: []getAnswer{{content: report}},
				gaadPages: []*iam.GetAccountAuthorizationDetailsOutput{{UserDetailList: []types.UserDetail{userDetail("alice", "/", nil)}}}}
			c := newCollector(t, f)
			st := &fakeSTS{}
			c.STS = st
			id, err := c.Begin(context.Background())
			if err != nil || id != testAccount {
				t.Fatalf("Begin() = %q, %v; want %s", id, err, testAccount)
			}
			if got := f.count("GenerateCredentialReport"); got != 1 || f.count("GetCredentialReport") != 0 {
				t.Fatalf("after Begin: %v; want one GenerateCredentialReport and nothing else", f.calls)
			}
			snap, err := c.Snapshot(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := f.count("GenerateCredentialReport"); got != tc.wantGenerate {
				t.Errorf("GenerateCredentialReport calls = %d; want %d", got, tc.wantGenerate)
			}
			if st.calls != 1 || snap.AccountID != testAccount || len(snap.Users) != 1 {
				t.Errorf("GetCallerIdentity calls %d, snapshot %s with %d users; want 1 call, %s, 1 user", st.calls, snap.AccountID, len(snap.Users), testAccount)
			}
			// The next Snapshot begins afresh.
			if _, err := c.Snapshot(context.Background()); err != nil {
				t.Fatal(err)
			}
			if st.calls != 2 {
				t.Errorf("GetCallerIdentity calls after a second Snapshot = %d; want 2", st.calls)
			}
		})
	}
}
