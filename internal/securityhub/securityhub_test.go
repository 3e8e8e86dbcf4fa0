package securityhub

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sh "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/smithy-go"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/report"
)

const (
	account = "123456789012"
	region  = "eu-west-1"
)

var (
	t1 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	t2 = t1.Add(24 * time.Hour)
	t3 = t2.Add(24 * time.Hour)
)

// findings are n access-key findings of account; exempt lists the indexes
// that are exempt.
func findings(n int, exempt ...int) []policy.Finding {
	fs := make([]policy.Finding, n)
	for i := range fs {
		fs[i] = policy.Finding{
			ID: fmt.Sprintf("%016x", i), Account: account, User: fmt.Sprintf("user%03d", i), Class: "human",
			Credential: policy.CredentialAccessKey, KeyID: fmt.Sprintf("AKIA%016d", i), Slot: 1,
			Rule: config.RuleAccessKeyAge, AgeDays: 91, StageAt: 90, Action: config.ActionDelete,
			Severity: config.SeverityHigh, Reason: "access key 1 is 91 days old",
			Exempt: slices.Contains(exempt, i),
		}
		if fs[i].Exempt {
			fs[i].ExemptReason = "vendor key"
		}
		if i%2 == 0 {
			fs[i].Controls = []string{"CIS 1.14"}
		}
	}
	return fs
}

// asff renders fs as the report's ASFF at now.
func asff(now time.Time, fs []policy.Finding) []report.ASFFFinding {
	return report.ASFFFindings(report.New(now, now, nil, fs), region)
}

// fakeHub is an in-memory Security Hub that follows the documented
// BatchImportFindings rules: an import creates or updates by Id, and an
// update cannot change Workflow. GetFindings ignores filters (as moto does)
// and pages pageSize at a time. It records every call.
type fakeHub struct {
	store    map[string]types.AwsSecurityFinding
	order    []string
	pageSize int

	filters     []*types.AwsSecurityFindingFilters
	imports     [][]types.AwsSecurityFinding
	updates     []*sh.BatchUpdateFindingsInput
	getErr      error
	updateErr   error
	failImport  map[string]bool
	unprocessed map[string]bool
}

func newFakeHub() *fakeHub {
	return &fakeHub{store: map[string]types.AwsSecurityFinding{}, pageSize: 7}
}

func (h *fakeHub) GetFindings(_ context.Context, in *sh.GetFindingsInput, _ ...func(*sh.Options)) (*sh.GetFindingsOutput, error) {
	if h.getErr != nil {
		return nil, h.getErr
	}
	h.filters = append(h.filters, in.Filters)
	start := 0
	if in.NextToken != nil {
		start, _ = strconv.Atoi(*in.NextToken)
	}
	end := min(start+h.pageSize, len(h.order))
	out := &sh.GetFindingsOutput{}
	for _, id := range h.order[start:end] {
		out.Findings = append(out.Findings, h.store[id])
	}
	if end < len(h.order) {
		out.NextToken = aws.String(strconv.Itoa(end))
	}
	return out, nil
}

func (h *fakeHub) BatchImportFindings(_ context.Context, in *sh.BatchImportFindingsInput, _ ...func(*sh.Options)) (*sh.BatchImportFindingsOutput, error) {
	h.imports = append(h.imports, in.Findings)
	out := &sh.BatchImportFindingsOutput{}
	for _, f := range in.Findings {
		id := aws.ToString(f.Id)
		if h.failImport[id] {
			out.FailedFindings = append(out.FailedFindings, types.ImportFindingsError{
				Id: f.Id, ErrorCode: aws.String("InvalidInput"), ErrorMessage: aws.String("bad finding"),
			})
			continue
		}
		if old, ok := h.store[id]; ok {
			if aws.ToString(f.UpdatedAt) <= aws.ToString(old.UpdatedAt) {
				continue // Security Hub ignores an update that is not newer
			}
			f.Workflow = old.Workflow // BatchImportFindings cannot change it
		} else {
			h.order = append(h.order, id)
		}
		h.store[id] = f
	}
	out.SuccessCount = aws.Int32(int32(len(in.Findings) - len(out.FailedFindings)))
	out.FailedCount = aws.Int32(int32(len(out.FailedFindings)))
	return out, nil
}

func (h *fakeHub) BatchUpdateFindings(_ context.Context, in *sh.BatchUpdateFindingsInput, _ ...func(*sh.Options)) (*sh.BatchUpdateFindingsOutput, error) {
	h.updates = append(h.updates, in)
	if h.updateErr != nil {
		return nil, h.updateErr
	}
	out := &sh.BatchUpdateFindingsOutput{}
	for _, ident := range in.FindingIdentifiers {
		id := aws.ToString(ident.Id)
		f, ok := h.store[id]
		if !ok || h.unprocessed[id] || aws.ToString(ident.ProductArn) != aws.ToString(f.ProductArn) {
			out.UnprocessedFindings = append(out.UnprocessedFindings, types.BatchUpdateFindingsUnprocessedFinding{
				FindingIdentifier: &ident, ErrorCode: aws.String("FindingNotFound"), ErrorMessage: aws.String("no such finding"),
			})
			continue
		}
		f.Workflow = &types.Workflow{Status: in.Workflow.Status}
		h.store[id] = f
		out.ProcessedFindings = append(out.ProcessedFindings, ident)
	}
	return out, nil
}

// put stores a finding as if another product had imported it.
func (h *fakeHub) put(f types.AwsSecurityFinding) {
	h.store[aws.ToString(f.Id)] = f
	h.order = append(h.order, aws.ToString(f.Id))
}

func sync(t *testing.T, h API, now time.Time, fs []policy.Finding) Result {
	t.Helper()
	res, err := Sync(context.Background(), h, Input{Account: account, Region: region, Findings: asff(now, fs), Now: now})
	if err != nil {
		t.Fatalf("Sync(%d findings) = %v; want nil", len(fs), err)
	}
	return res
}

func batchSizes(h *fakeHub) []int {
	var sizes []int
	for _, b := range h.imports {
		sizes = append(sizes, len(b))
	}
	return sizes
}

func TestSyncImportsInBatchesOf100(t *testing.T) {
	h := newFakeHub()
	res := sync(t, h, t1, findings(250))
	if got, want := batchSizes(h), []int{100, 100, 50}; !slices.Equal(got, want) {
		t.Errorf("BatchImportFindings batch sizes = %v; want %v", got, want)
	}
	if res.Imported != 250 || res.Created != 250 || res.ImportCalls != 3 || res.Resolved != 0 || res.UpdateCalls != 0 {
		t.Errorf("Sync() = %+v; want 250 imported and created in 3 calls, nothing resolved", res)
	}
	if len(h.store) != 250 {
		t.Errorf("hub holds %d findings; want 250", len(h.store))
	}
	f := h.store["keywarden/"+account+"/0000000000000007"]
	if aws.ToString(f.ProductArn) != "arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default" ||
		aws.ToString(f.GeneratorId) != "keywarden/access_key_age" || f.RecordState != types.RecordStateActive ||
		f.Workflow.Status != types.WorkflowStatusNew || f.Severity.Label != types.SeverityLabelHigh {
		t.Errorf("imported finding = %+v; want the default product ARN, keywarden/access_key_age, ACTIVE, NEW, HIGH", f)
	}
	if got := aws.ToString(f.UpdatedAt); got != "2026-11-23T08:00:00.000Z" {
		t.Errorf("UpdatedAt = %s; want Now to the millisecond", got)
	}
}

// TestSyncSendsTheResource: an access-key finding is imported with its key
// as the resource, the user as its principal (PrincipalName, not the
// deprecated UserName); a password finding with the IAM user.
func TestSyncSendsTheResource(t *testing.T) {
	h := newFakeHub()
	fs := findings(2)
	fs[1].Credential, fs[1].KeyID, fs[1].Slot, fs[1].Rule = policy.CredentialPassword, "", 0, config.RulePasswordExpiry
	fs[0].KeyCreatedAt = t1.Add(-91 * 24 * time.Hour)
	sync(t, h, t1, fs)
	if len(h.imports) != 1 || len(h.imports[0]) != 2 {
		t.Fatalf("imports = %v; want one batch of 2", batchSizes(h))
	}
	key, user := h.imports[0][0], h.imports[0][1]
	if len(key.Resources) != 1 || key.Resources[0].Details == nil || key.Resources[0].Details.AwsIamAccessKey == nil {
		t.Fatalf("access-key finding resources = %+v; want one with AwsIamAccessKey details", key.Resources)
	}
	r, d := key.Resources[0], key.Resources[0].Details.AwsIamAccessKey
	got := []string{aws.ToString(r.Type), aws.ToString(r.Id), aws.ToString(d.AccessKeyId), aws.ToString(d.AccountId),
		aws.ToString(d.CreatedAt), aws.ToString(d.PrincipalName), aws.ToString(d.PrincipalType)}
	want := []string{"AwsIamAccessKey", "AWS::IAM::AccessKey:" + fs[0].KeyID, fs[0].KeyID, account,
		"2026-08-24T08:00:00Z", "user000", "IAMUser"}
	if !slices.Equal(got, want) {
		t.Errorf("access-key resource (type, id, key, account, created, principal, principal type) = %q; want %q", got, want)
	}
	//lint:ignore SA1019 the test checks that the deprecated field is not sent
	if u := d.UserName; u != nil {
		t.Errorf("access-key details carry the deprecated UserName %q; want PrincipalName only", *u)
	}
	if len(user.Resources) != 1 || aws.ToString(user.Resources[0].Type) != "AwsIamUser" ||
		aws.ToString(user.Resources[0].Id) != "arn:aws:iam::"+account+":user/user001" ||
		user.Resources[0].Details == nil || user.Resources[0].Details.AwsIamUser == nil ||
		aws.ToString(user.Resources[0].Details.AwsIamUser.UserName) != "user001" {
		t.Errorf("password finding resources = %+v; want the IAM user user001", user.Resources)
	}
}

func TestSyncListsWithFilters(t *testing.T) {
	h := newFakeHub()
	sync(t, h, t1, findings(20))
	sync(t, h, t2, findings(20))
	// Second sync: 20 findings, 7 a page.
	if len(h.filters) != 1+3 {
		t.Fatalf("GetFindings calls = %d; want 1 then 3 (paged)", len(h.filters))
	}
	f := h.filters[1]
	check := func(name string, got []types.StringFilter, cmp types.StringFilterComparison, want string) {
		t.Helper()
		if len(got) != 1 || got[0].Comparison != cmp || aws.ToString(got[0].Value) != want {
			t.Errorf("GetFindings filter %s = %+v; want %s %s", name, got, cmp, want)
		}
	}
	check("ProductArn", f.ProductArn, types.StringFilterComparisonEquals, report.ASFFProductArn(region, account))
	check("AwsAccountId", f.AwsAccountId, types.StringFilterComparisonEquals, account)
	check("GeneratorId", f.GeneratorId, types.StringFilterComparisonPrefix, "keywarden/")
}

// TestSyncReimportUpdatesNotDuplicates: the same findings a day later
// update the ones held, keeping their CreatedAt and FirstObservedAt.
func TestSyncReimportUpdatesNotDuplicates(t *testing.T) {
	h := newFakeHub()
	sync(t, h, t1, findings(150))
	res := sync(t, h, t2, findings(150))
	if len(h.store) != 150 || res.Created != 0 || res.Imported != 150 || res.Resolved != 0 {
		t.Errorf("re-import: hub holds %d, result %+v; want 150 held, 0 created, 150 imported, 0 resolved", len(h.store), res)
	}
	for id, f := range h.store {
		if aws.ToString(f.CreatedAt) != "2026-11-23T08:00:00Z" || aws.ToString(f.FirstObservedAt) != "2026-11-23T08:00:00Z" {
			t.Fatalf("%s: CreatedAt %s, FirstObservedAt %s after re-import; want the first import's", id, aws.ToString(f.CreatedAt), aws.ToString(f.FirstObservedAt))
		}
		if aws.ToString(f.UpdatedAt) != "2026-11-24T08:00:00.000Z" {
			t.Fatalf("%s: UpdatedAt %s after re-import; want the second sync's", id, aws.ToString(f.UpdatedAt))
		}
	}
}

// TestSyncResolvesDisappeared: a finding that is gone is archived and its
// workflow set to RESOLVED; a second run does not touch it again.
func TestSyncResolvesDisappeared(t *testing.T) {
	h := newFakeHub()
	sync(t, h, t1, findings(120))
	res := sync(t, h, t2, findings(5))
	if res.Resolved != 115 || res.Imported != 5 {
		t.Fatalf("Sync(5 of 120) = %+v; want 115 resolved, 5 imported", res)
	}
	if got, want := batchSizes(h)[2:], []int{100, 20}; !slices.Equal(got, want) {
		t.Errorf("second sync's import batches = %v; want %v (5 current + 115 archived)", got, want)
	}
	for i := range 120 {
		f := h.store[fmt.Sprintf("keywarden/%s/%016x", account, i)]
		wantState, wantFlow := types.RecordStateActive, types.WorkflowStatusNew
		if i >= 5 {
			wantState, wantFlow = types.RecordStateArchived, types.WorkflowStatusResolved
		}
		if f.RecordState != wantState || f.Workflow.Status != wantFlow {
			t.Errorf("finding %d: %s/%s; want %s/%s", i, f.RecordState, f.Workflow.Status, wantState, wantFlow)
		}
	}
	if len(h.updates) != 2 || len(h.updates[0].FindingIdentifiers) != 100 || len(h.updates[1].FindingIdentifiers) != 15 {
		t.Fatalf("BatchUpdateFindings calls = %d; want 2 (100 + 15)", len(h.updates))
	}
	u := h.updates[0]
	if u.Workflow.Status != types.WorkflowStatusResolved || aws.ToString(u.FindingIdentifiers[0].ProductArn) != report.ASFFProductArn(region, account) ||
		!strings.Contains(aws.ToString(u.Note.Text), "no longer found on 2026-11-24") {
		t.Errorf("BatchUpdateFindings input = %+v; want RESOLVED with the product ARN and a note", u)
	}
	// The archive import carries what BatchImportFindings requires.
	a := h.imports[len(h.imports)-1][0]
	if a.Title == nil || a.Description == nil || a.CreatedAt == nil || len(a.Resources) == 0 || len(a.Types) == 0 ||
		aws.ToString(a.UpdatedAt) != "2026-11-24T08:00:00.000Z" || a.RecordState != types.RecordStateArchived {
		t.Errorf("archive import = %+v; want a complete finding, ARCHIVED, UpdatedAt now", a)
	}

	// Its compliance: FAILED while found, PASSED once resolved; none for
	// a finding without controls (the odd ones).
	for i, want := range map[int]types.ComplianceStatus{4: "FAILED", 6: "PASSED", 7: ""} {
		f := h.store[fmt.Sprintf("keywarden/%s/%016x", account, i)]
		got := types.ComplianceStatus("")
		if f.Compliance != nil {
			got = f.Compliance.Status
			if !slices.Equal(f.Compliance.RelatedRequirements, []string{"CIS AWS Foundations Benchmark v3.0.0/1.14"}) {
				t.Errorf("finding %d RelatedRequirements = %q; want the benchmark's 1.14", i, f.Compliance.RelatedRequirements)
			}
		}
		if got != want {
			t.Errorf("finding %d Compliance.Status = %q; want %q", i, got, want)
		}
	}

	h.updates = nil
	res = sync(t, h, t3, findings(5))
	if res.Resolved != 0 || len(h.updates) != 0 || len(h.store) != 120 {
		t.Errorf("third sync = %+v, %d updates; want nothing more resolved", res, len(h.updates))
	}
}

// TestSyncReappearingFindingIsActiveAgain: a resolved finding that comes
// back (the same key, say an exemption ended) is imported ACTIVE.
func TestSyncReappearingFindingIsActiveAgain(t *testing.T) {
	h := newFakeHub()
	sync(t, h, t1, findings(2))
	sync(t, h, t2, findings(1))
	res := sync(t, h, t3, findings(2))
	if f := h.store["keywarden/"+account+"/0000000000000001"]; f.RecordState != types.RecordStateActive || res.Created != 0 {
		t.Errorf("reappeared finding: %s, created %d; want ACTIVE and not created anew", f.RecordState, res.Created)
	}
}

func TestSyncSuppressesNewlyExempt(t *testing.T) {
	h := newFakeHub()
	sync(t, h, t1, findings(3))
	res := sync(t, h, t2, findings(3, 1))
	if res.Suppressed != 1 || res.Resolved != 0 {
		t.Fatalf("Sync(finding 1 exempt) = %+v; want 1 suppressed", res)
	}
	f := h.store["keywarden/"+account+"/0000000000000001"]
	if f.RecordState != types.RecordStateArchived || f.Workflow.Status != types.WorkflowStatusSuppressed ||
		f.ProductFields["keywarden/exempt_reason"] != "vendor key" {
		t.Errorf("exempt finding: %s/%s %v; want ARCHIVED/SUPPRESSED with the reason", f.RecordState, f.Workflow.Status, f.ProductFields)
	}
	// A finding exempt from the start is imported archived and suppressed,
	// with no update call.
	h2 := newFakeHub()
	sync(t, h2, t1, findings(2, 0))
	if f := h2.store["keywarden/"+account+"/0000000000000000"]; f.RecordState != types.RecordStateArchived ||
		f.Workflow.Status != types.WorkflowStatusSuppressed || len(h2.updates) != 0 {
		t.Errorf("new exempt finding: %s/%s, %d updates; want ARCHIVED/SUPPRESSED, no update", f.RecordState, f.Workflow.Status, len(h2.updates))
	}
}

// TestSyncLeavesOthersFindingsAlone: findings of other products, accounts
// or generators are never archived, even when the hub ignores filters.
func TestSyncLeavesOthersFindingsAlone(t *testing.T) {
	h := newFakeHub()
	others := []types.AwsSecurityFinding{
		{Id: aws.String("guardduty-1"), ProductArn: aws.String("arn:aws:securityhub:eu-west-1::product/aws/guardduty"),
			AwsAccountId: aws.String(account), GeneratorId: aws.String("keywarden/looks-like-ours"), RecordState: types.RecordStateActive},
		{Id: aws.String("keywarden/999999999999/x"), ProductArn: aws.String(report.ASFFProductArn(region, "999999999999")),
			AwsAccountId: aws.String("999999999999"), GeneratorId: aws.String("keywarden/access_key_age"), RecordState: types.RecordStateActive},
		{Id: aws.String("custom-1"), ProductArn: aws.String(report.ASFFProductArn(region, account)),
			AwsAccountId: aws.String(account), GeneratorId: aws.String("my-scanner"), RecordState: types.RecordStateActive},
	}
	for _, f := range others {
		h.put(f)
	}
	res := sync(t, h, t1, findings(1))
	if res.Resolved != 0 || len(h.updates) != 0 {
		t.Errorf("Sync() = %+v with %d updates; want others' findings untouched", res, len(h.updates))
	}
	for _, f := range others {
		if got := h.store[aws.ToString(f.Id)]; got.RecordState != types.RecordStateActive || got.UpdatedAt != nil {
			t.Errorf("%s was changed: %+v", aws.ToString(f.Id), got)
		}
	}
	// Findings of another account in the input are not sent either.
	fs := findings(2)
	fs[1].Account = "999999999999"
	h2 := newFakeHub()
	res, err := Sync(context.Background(), h2, Input{Account: account, Region: region, Findings: asff(t1, fs), Now: t1})
	if err != nil || res.Imported != 1 || len(h2.store) != 1 {
		t.Errorf("Sync(one finding of another account) = %+v, %v; want only this account's finding imported", res, err)
	}
}

func TestSyncRejectedFindingsAreAnError(t *testing.T) {
	h := newFakeHub()
	h.failImport = map[string]bool{"keywarden/" + account + "/0000000000000001": true}
	_, err := Sync(context.Background(), h, Input{Account: account, Region: region, Findings: asff(t1, findings(3)), Now: t1})
	want := "import security hub findings of 123456789012: 1 rejected: keywarden/123456789012/0000000000000001: InvalidInput: bad finding"
	if err == nil || err.Error() != want {
		t.Errorf("Sync(one rejected) = %v; want %s", err, want)
	}
}

func TestSyncWorkflowFailureIsAWarning(t *testing.T) {
	h := newFakeHub()
	sync(t, h, t1, findings(2))
	h.updateErr = &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not allowed"}
	res := sync(t, h, t2, nil)
	if res.Resolved != 2 || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "set workflow RESOLVED on 2 findings") ||
		!strings.Contains(res.Warnings[0], "securityhub:BatchUpdateFindings") {
		t.Errorf("Sync() with BatchUpdateFindings denied = %+v; want 2 resolved (archived) and one warning naming the action", res)
	}
	if f := h.store["keywarden/"+account+"/0000000000000000"]; f.RecordState != types.RecordStateArchived {
		t.Errorf("finding after a failed workflow update: %s; want ARCHIVED all the same", f.RecordState)
	}
	h.updateErr = nil
	h2 := newFakeHub()
	sync(t, h2, t1, findings(2))
	h2.unprocessed = map[string]bool{"keywarden/" + account + "/0000000000000001": true}
	res = sync(t, h2, t2, nil)
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "0000000000000001: FindingNotFound") {
		t.Errorf("Sync() with an unprocessed finding: warnings %q; want one naming it", res.Warnings)
	}
}

func TestSyncErrorsSayWhatToDo(t *testing.T) {
	h := newFakeHub()
	h.getErr = &smithy.GenericAPIError{Code: "InvalidAccessException", Message: "Account 123456789012 is not subscribed to AWS Security Hub"}
	_, err := Sync(context.Background(), h, Input{Account: account, Region: region, Findings: asff(t1, findings(1)), Now: t1})
	if err == nil || !strings.Contains(err.Error(), "list security hub findings of 123456789012") ||
		!strings.Contains(err.Error(), "aws securityhub enable-security-hub") {
		t.Errorf("Sync() with Security Hub disabled = %v; want an error that says to enable it", err)
	}
	if !errors.As(err, new(smithy.APIError)) {
		t.Errorf("Sync() error %v does not wrap the API error", err)
	}
	if len(h.imports) != 0 {
		t.Errorf("Sync() imported %d batches after the list failed; want none", len(h.imports))
	}
}
