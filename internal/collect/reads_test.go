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
)

// TestSnapshotReadsWhileReportGenerated: the authorization details, the
// password policy, the alias, the account summary and the service-specific
// credentials are read while IAM generates the report. The fake's report
// is ready only once all five have been asked for, so a Snapshot that
// waited for the report before reading them would never get it.
func TestSnapshotReadsWhileReportGenerated(t *testing.T) {
	f := &fakeIAM{
		generate:  []generateAnswer{{state: types.ReportStateTypeStarted}},
		get:       []getAnswer{{content: reportCSV(reportUser{name: "alice"})}},
		gaadPages: []*iam.GetAccountAuthorizationDetailsOutput{{UserDetailList: []types.UserDetail{userDetail("alice", "/eng/", map[string]string{"Team": "eng"})}}},
		policy:    &types.PasswordPolicy{MaxPasswordAge: aws.Int32(90)},
		aliases:   []string{"prod"},
	}
	f.ready = func() bool {
		for _, op := range concurrentReads {
			if f.count(op) == 0 {
				return false
			}
		}
		return true
	}
	snap, err := newCollector(t, f).Snapshot(context.Background())
	if err != nil {
		t.Fatalf("Snapshot() = %v; want the report once the other reads were made while it was generated (calls %v)", err, f.calls)
	}
	if len(snap.Users) != 1 || snap.Users[0].Path != "/eng/" || snap.Users[0].Tags["Team"] != "eng" ||
		snap.PasswordPolicy == nil || snap.PasswordPolicy.MaxPasswordAge != 90 || snap.AccountAlias != "prod" {
		t.Errorf("Snapshot() = users %+v, policy %+v, alias %q; want alice in /eng/ tagged, max age 90, prod", snap.Users, snap.PasswordPolicy, snap.AccountAlias)
	}
	lastGet := -1
	for i, op := range f.calls {
		if op == "GetCredentialReport" {
			lastGet = i
		}
	}
	for _, op := range concurrentReads {
		if i := slices.Index(f.calls, op); i < 0 || i > lastGet {
			t.Errorf("calls %v: want %s before the GetCredentialReport that got the report", f.calls, op)
		}
	}
}

// concurrentReads are the reads made while IAM generates the report, in
// the order of their errors.
var concurrentReads = []string{"GetAccountAuthorizationDetails", "GetAccountPasswordPolicy", "ListAccountAliases",
	"GetAccountSummary", "ListServiceSpecificCredentials"}

// TestSnapshotReadErrorsInOrder: when several reads fail, the error is the
// first in the order authorization details, password policy, alias,
// account summary, service-specific credentials, report, whatever failed
// first in time; a failure cancels the reads
// after it in that order (a held read answers only when cancelled) but
// not those before it — the report's failure cancels none — and Snapshot
// returns only once every read has.
func TestSnapshotReadErrorsInOrder(t *testing.T) {
	denied := func(op string) error {
		return &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform: iam:" + op}
	}
	for _, tc := range []struct {
		name                                 string
		getErr, gaadErr, policyErr, aliasErr error
		summaryErr, credsErr                 error
		hold                                 []string
		// afterReport answer only once the report has failed.
		afterReport []string
		want        string
	}{
		{
			name:   "the report fails, then the details: the details' error",
			getErr: denied("GetCredentialReport"), gaadErr: denied("GetAccountAuthorizationDetails"),
			afterReport: []string{"GetAccountAuthorizationDetails"},
			want:        "get account authorization details (page 1): api error AccessDenied: not authorized to perform: iam:GetAccountAuthorizationDetails",
		},
		{
			name:   "the report fails: the other reads are not cancelled",
			getErr: denied("GetCredentialReport"), afterReport: concurrentReads,
			want: "get credential report: api error AccessDenied: not authorized to perform: iam:GetCredentialReport",
		},
		{
			name:    "details fail: the held policy, alias, summary and service credentials are cancelled",
			gaadErr: denied("GetAccountAuthorizationDetails"), hold: concurrentReads[1:],
			want: "get account authorization details (page 1): api error AccessDenied: not authorized to perform: iam:GetAccountAuthorizationDetails",
		},
		{
			name:      "policy and alias fail: the policy's error",
			policyErr: denied("GetAccountPasswordPolicy"), aliasErr: &types.ServiceFailureException{Message: aws.String("down")},
			want: "get account password policy: api error AccessDenied: not authorized to perform: iam:GetAccountPasswordPolicy",
		},
		{
			name:      "the policy fails: the held alias, summary and service credentials are cancelled",
			policyErr: denied("GetAccountPasswordPolicy"), hold: concurrentReads[2:],
			want: "get account password policy: api error AccessDenied: not authorized to perform: iam:GetAccountPasswordPolicy",
		},
		{
			name:       "the summary and the service credentials fail: the summary's error",
			summaryErr: denied("GetAccountSummary"), credsErr: &types.ServiceFailureException{Message: aws.String("down")},
			want: "get account summary: api error AccessDenied: not authorized to perform: iam:GetAccountSummary",
		},
		{
			name:       "the summary fails: the held service credentials are cancelled",
			summaryErr: denied("GetAccountSummary"), hold: []string{"ListServiceSpecificCredentials"},
			want: "get account summary: api error AccessDenied: not authorized to perform: iam:GetAccountSummary",
		},
		{
			name:     "the service credentials fail after the report: their error",
			credsErr: denied("ListServiceSpecificCredentials"), getErr: denied("GetCredentialReport"),
			afterReport: []string{"ListServiceSpecificCredentials"},
			want:        "list service-specific credentials (page 1): api error AccessDenied: not authorized to perform: iam:ListServiceSpecificCredentials",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeIAM{
				generate:  []generateAnswer{{state: types.ReportStateTypeComplete}},
				get:       []getAnswer{{content: reportCSV(reportUser{name: "alice"}), err: tc.getErr}},
				gaadPages: []*iam.GetAccountAuthorizationDetailsOutput{{UserDetailList: []types.UserDetail{userDetail("alice", "/", nil)}}},
				gaadErr:   tc.gaadErr, policyErr: tc.policyErr, aliasErr: tc.aliasErr,
				summaryErr: tc.summaryErr, serviceCredsErr: tc.credsErr,
				hold: map[string]bool{}, waitFor: map[string]<-chan struct{}{},
			}
			for _, op := range tc.hold {
				f.hold[op] = true
			}
			for _, op := range tc.afterReport {
				f.waitFor[op] = f.reportFailed()
			}
			_, err := snapshotWithin(t, newCollector(t, f), context.Background())
			if err == nil || err.Error() != tc.want {
				t.Errorf("Snapshot() = %v; want %q", err, tc.want)
			}
			held := 0
			for _, op := range f.calls {
				if f.hold[op] {
					held++
				}
			}
			if f.returned != held {
				t.Errorf("%d of %d held reads had returned when Snapshot did; want all", f.returned, held)
			}
			if f.cancelled != 0 {
				t.Errorf("%d reads waiting for the report's failure were cancelled; want none: the report's failure cancels no read", f.cancelled)
			}
		})
	}
}

// TestSnapshotReadFailureStopsReportWait: when a read beside the report
// fails, the wait for a report IAM is still building ends at once — the
// account fails anyway — and that read's error is returned, not the
// wait's. The poll interval is an hour: Snapshot returns only if the wait
// was cancelled.
func TestSnapshotReadFailureStopsReportWait(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDenied", Message: "no"}
	for _, tc := range []struct {
		name string
		set  func(*fakeIAM)
		want string
	}{
		{"details", func(f *fakeIAM) { f.gaadErr = denied }, "get account authorization details (page 1): api error AccessDenied: no"},
		{"password policy", func(f *fakeIAM) { f.policyErr = denied }, "get account password policy: api error AccessDenied: no"},
		{"alias", func(f *fakeIAM) { f.aliasErr = &types.ServiceFailureException{Message: aws.String("down")} }, "list account aliases: ServiceFailure: down"},
		{"account summary", func(f *fakeIAM) { f.summaryErr = denied }, "get account summary: api error AccessDenied: no"},
		{"service credentials", func(f *fakeIAM) { f.serviceCredsErr = denied }, "list service-specific credentials (page 1): api error AccessDenied: no"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeIAM{
				generate:  []generateAnswer{{state: types.ReportStateTypeStarted}},
				get:       []getAnswer{{content: reportCSV(reportUser{name: "alice"})}},
				gaadPages: []*iam.GetAccountAuthorizationDetailsOutput{{UserDetailList: []types.UserDetail{userDetail("alice", "/", nil)}}},
			}
			tc.set(f)
			c := newCollector(t, f)
			c.PollInitial, c.PollMax = time.Hour, time.Hour
			_, err := snapshotWithin(t, c, context.Background())
			if err == nil || err.Error() != tc.want {
				t.Errorf("Snapshot() = %v; want %q", err, tc.want)
			}
			if n := f.count("GetCredentialReport"); n != 0 {
				t.Errorf("GetCredentialReport calls = %d; want 0: the wait ended when the %s read failed", n, tc.name)
			}
		})
	}
}
