package securityhub

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sh "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/smithy-go"

	"github.com/keywarden/keywarden/internal/report"
)

// BatchSize is the most findings one BatchImportFindings or
// BatchUpdateFindings call takes.
const BatchSize = 100

// Actions are the IAM actions Sync calls, for the least-privilege policy.
var Actions = []string{
	"securityhub:BatchImportFindings",
	"securityhub:BatchUpdateFindings",
	"securityhub:GetFindings",
}

// API is the part of the Security Hub client Sync uses; production passes
// *securityhub.Client.
type API interface {
	GetFindings(ctx context.Context, in *sh.GetFindingsInput, optFns ...func(*sh.Options)) (*sh.GetFindingsOutput, error)
	BatchImportFindings(ctx context.Context, in *sh.BatchImportFindingsInput, optFns ...func(*sh.Options)) (*sh.BatchImportFindingsOutput, error)
	BatchUpdateFindings(ctx context.Context, in *sh.BatchUpdateFindingsInput, optFns ...func(*sh.Options)) (*sh.BatchUpdateFindingsOutput, error)
}

var _ API = (*sh.Client)(nil)

// Input is one account's sync.
type Input struct {
	// Account is the account whose findings are synced. Security Hub takes
	// findings with the default product ARN only from the account itself,
	// so the client must hold that account's credentials.
	Account string
	// Region is the client's region; it names the product ARN.
	Region string
	// Findings are the scan's findings in ASFF (report.ASFFFindings);
	// those of other accounts are ignored.
	Findings []report.ASFFFinding
	// Now stamps UpdatedAt of every finding sent, to the millisecond
	// (Security Hub ignores an update that is not newer).
	Now    time.Time
	Logger *slog.Logger
}

// Result says what Sync did.
type Result struct {
	Account string
	// Imported is the number of current findings sent; Created of them
	// were new to Security Hub.
	Imported, Created int
	// Resolved counts active findings that disappeared: archived, and
	// their workflow set to RESOLVED. Suppressed counts active findings
	// that became exempt: archived and SUPPRESSED.
	Resolved, Suppressed int
	// ImportCalls and UpdateCalls count BatchImportFindings and
	// BatchUpdateFindings calls.
	ImportCalls, UpdateCalls int
	// Warnings are workflow updates that failed after the finding was
	// archived (for example without securityhub:BatchUpdateFindings).
	Warnings []string
}

// existing is what Security Hub holds for one of keywarden's findings.
type existing struct {
	finding  types.AwsSecurityFinding
	active   bool
	workflow types.WorkflowStatus
}

// Sync imports in.Findings and resolves the account's active keywarden
// findings that are not among them:
//
//  1. GetFindings lists the findings with this account's default product
//     ARN and a GeneratorId starting "keywarden/" (the filter is applied
//     again here, as not every implementation applies it);
//  2. BatchImportFindings sends the current findings, 100 per call,
//     keeping CreatedAt and FirstObservedAt of those that exist;
//  3. BatchImportFindings archives (RecordState ARCHIVED) each active
//     finding that disappeared, and each exempt one (the current findings
//     are already archived when exempt);
//  4. BatchUpdateFindings sets their Workflow.Status — RESOLVED for gone,
//     SUPPRESSED for exempt — since BatchImportFindings cannot change the
//     workflow of an existing finding. A failure here is a warning: the
//     findings are archived either way.
//
// Import failures (the call, or findings in FailedFindings) are errors.
// The caller must not sync an account whose scan failed: its findings
// would all look resolved.
func Sync(ctx context.Context, api API, in Input) (Result, error) {
	log := in.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	res := Result{Account: in.Account}
	productArn := report.ASFFProductArn(in.Region, in.Account)
	now := in.Now.UTC().Format("2006-01-02T15:04:05.000Z07:00")

	have, err := list(ctx, api, in.Account, productArn)
	if err != nil {
		return res, err
	}

	var send []types.AwsSecurityFinding
	current := map[string]bool{}
	var resolve, suppress []string
	for _, f := range in.Findings {
		if f.AwsAccountID != in.Account || f.ProductArn != productArn {
			continue
		}
		current[f.ID] = true
		s := toSDK(f)
		s.UpdatedAt = aws.String(now)
		s.LastObservedAt = aws.String(now)
		if e, ok := have[f.ID]; ok {
			s.CreatedAt = cmp.Or(e.finding.CreatedAt, s.CreatedAt)
			s.FirstObservedAt = cmp.Or(e.finding.FirstObservedAt, s.FirstObservedAt)
			if e.active && f.RecordState == report.ASFFRecordArchived {
				suppress = append(suppress, f.ID)
			}
		} else {
			res.Created++
		}
		send = append(send, s)
	}
	res.Imported = len(send)
	for _, id := range sortedKeys(have) {
		e := have[id]
		if current[id] || !e.active {
			continue
		}
		send = append(send, archived(e.finding, now))
		resolve = append(resolve, id)
	}

	if err := importAll(ctx, api, send, &res); err != nil {
		return res, err
	}
	res.Resolved, res.Suppressed = len(resolve), len(suppress)
	date := in.Now.UTC().Format("2006-01-02")
	updateWorkflow(ctx, api, productArn, resolve, types.WorkflowStatusResolved,
		"keywarden: no longer found on "+date+" (credential rotated, removed or fixed)", &res)
	updateWorkflow(ctx, api, productArn, suppress, types.WorkflowStatusSuppressed,
		"keywarden: exempt as of "+date+" (see the keywarden/exempt_reason product field)", &res)
	for _, w := range res.Warnings {
		log.Warn("security hub workflow update failed; the findings are archived", "account", in.Account, "error", w)
	}
	log.Info("security hub findings synced", "account", in.Account, "imported", res.Imported, "created", res.Created,
		"resolved", res.Resolved, "suppressed", res.Suppressed)
	return res, nil
}

// list returns keywarden's findings of account in Security Hub, by ID.
func list(ctx context.Context, api API, account, productArn string) (map[string]existing, error) {
	eq := func(v string) []types.StringFilter {
		return []types.StringFilter{{Comparison: types.StringFilterComparisonEquals, Value: aws.String(v)}}
	}
	p := sh.NewGetFindingsPaginator(api, &sh.GetFindingsInput{
		Filters: &types.AwsSecurityFindingFilters{
			ProductArn:   eq(productArn),
			AwsAccountId: eq(account),
			GeneratorId: []types.StringFilter{{
				Comparison: types.StringFilterComparisonPrefix, Value: aws.String(report.ASFFGeneratorPrefix),
			}},
		},
		MaxResults: aws.Int32(100),
	})
	have := map[string]existing{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list security hub findings of %s: %w%s", account, err, hint(err))
		}
		for _, f := range page.Findings {
			if aws.ToString(f.ProductArn) != productArn || aws.ToString(f.AwsAccountId) != account ||
				!strings.HasPrefix(aws.ToString(f.GeneratorId), report.ASFFGeneratorPrefix) {
				continue
			}
			e := existing{finding: f, active: f.RecordState != types.RecordStateArchived}
			if f.Workflow != nil {
				e.workflow = f.Workflow.Status
			}
			have[aws.ToString(f.Id)] = e
		}
	}
	return have, nil
}

// hint says what to do about errors with a known cure.
func hint(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "InvalidAccessException":
			return " (is Security Hub enabled in this account and region? aws securityhub enable-security-hub)"
		case "AccessDeniedException":
			return " (the caller needs " + strings.Join(Actions, ", ") + ")"
		}
	}
	return ""
}

// importAll sends findings in batches of BatchSize. Findings Security Hub
// rejects are joined into the error.
func importAll(ctx context.Context, api API, findings []types.AwsSecurityFinding, res *Result) error {
	var failed []string
	for batch := range slices.Chunk(findings, BatchSize) {
		res.ImportCalls++
		out, err := api.BatchImportFindings(ctx, &sh.BatchImportFindingsInput{Findings: batch})
		if err != nil {
			return fmt.Errorf("import security hub findings of %s: %w%s", res.Account, err, hint(err))
		}
		for _, f := range out.FailedFindings {
			failed = append(failed, fmt.Sprintf("%s: %s: %s", aws.ToString(f.Id), aws.ToString(f.ErrorCode), aws.ToString(f.ErrorMessage)))
		}
	}
	if n := len(failed); n > 0 {
		const show = 5
		more := ""
		if n > show {
			more = fmt.Sprintf("; and %d more", n-show)
			failed = failed[:show]
		}
		return fmt.Errorf("import security hub findings of %s: %d rejected: %s%s", res.Account, n, strings.Join(failed, "; "), more)
	}
	return nil
}

// updateWorkflow sets the workflow status of ids, BatchSize per call.
// Failures become warnings.
func updateWorkflow(ctx context.Context, api API, productArn string, ids []string, status types.WorkflowStatus, note string, res *Result) {
	for batch := range slices.Chunk(ids, BatchSize) {
		idents := make([]types.AwsSecurityFindingIdentifier, len(batch))
		for i, id := range batch {
			idents[i] = types.AwsSecurityFindingIdentifier{Id: aws.String(id), ProductArn: aws.String(productArn)}
		}
		res.UpdateCalls++
		out, err := api.BatchUpdateFindings(ctx, &sh.BatchUpdateFindingsInput{
			FindingIdentifiers: idents,
			Workflow:           &types.WorkflowUpdate{Status: status},
			Note:               &types.NoteUpdate{Text: aws.String(note), UpdatedBy: aws.String("keywarden")},
		})
		if err != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("set workflow %s on %d findings: %v%s", status, len(batch), err, hint(err)))
			continue
		}
		for _, u := range out.UnprocessedFindings {
			id := ""
			if u.FindingIdentifier != nil {
				id = aws.ToString(u.FindingIdentifier.Id)
			}
			res.Warnings = append(res.Warnings, fmt.Sprintf("set workflow %s on %s: %s: %s", status, id, aws.ToString(u.ErrorCode), aws.ToString(u.ErrorMessage)))
		}
	}
}

// archived is the import that archives a finding Security Hub holds:
// the fields BatchImportFindings requires and keywarden wrote, taken from
// Security Hub's copy, with RecordState ARCHIVED and a new UpdatedAt.
// Workflow RESOLVED is sent too; Security Hub ignores it on an existing
// finding (BatchUpdateFindings sets it), emulators may not. A finding
// with controls gets Compliance.Status PASSED: the provider's own field,
// which BatchImportFindings updates.
func archived(f types.AwsSecurityFinding, now string) types.AwsSecurityFinding {
	fields := map[string]string{}
	for k, v := range f.ProductFields {
		// Security Hub adds aws/... fields of its own.
		if !strings.HasPrefix(k, "aws/") {
			fields[k] = v
		}
	}
	return types.AwsSecurityFinding{
		SchemaVersion:         f.SchemaVersion,
		Id:                    f.Id,
		ProductArn:            f.ProductArn,
		GeneratorId:           f.GeneratorId,
		AwsAccountId:          f.AwsAccountId,
		Types:                 f.Types,
		CreatedAt:             f.CreatedAt,
		UpdatedAt:             aws.String(now),
		FirstObservedAt:       f.FirstObservedAt,
		LastObservedAt:        f.LastObservedAt,
		Severity:              f.Severity,
		FindingProviderFields: f.FindingProviderFields,
		Title:                 f.Title,
		Description:           f.Description,
		Remediation:           f.Remediation,
		ProductFields:         fields,
		Resources:             f.Resources,
		RecordState:           types.RecordStateArchived,
		Workflow:              &types.Workflow{Status: types.WorkflowStatusResolved},
		Compliance:            passed(f.Compliance),
	}
}

// passed is a resolved finding's compliance: the control is met now
// (PASSED), the related requirements kept; nil for a finding without one.
func passed(c *types.Compliance) *types.Compliance {
	if c == nil {
		return nil
	}
	return &types.Compliance{Status: types.ComplianceStatus(report.ASFFCompliancePassed), RelatedRequirements: c.RelatedRequirements}
}

// toSDK converts keywarden's ASFF finding to the SDK's type.
func toSDK(f report.ASFFFinding) types.AwsSecurityFinding {
	str := func(s string) *string {
		if s == "" {
			return nil
		}
		return aws.String(s)
	}
	resources := make([]types.Resource, len(f.Resources))
	for i, r := range f.Resources {
		res := types.Resource{Type: aws.String(r.Type), Id: aws.String(r.ID), Partition: types.Partition(r.Partition), Region: str(r.Region)}
		if d := r.Details; d != nil {
			res.Details = &types.ResourceDetails{}
			if k := d.AwsIamAccessKey; k != nil {
				// The user goes in PrincipalName only: UserName is
				// deprecated in favour of it.
				res.Details.AwsIamAccessKey = &types.AwsIamAccessKeyDetails{
					AccessKeyId: str(k.AccessKeyID), AccountId: str(k.AccountID), CreatedAt: str(k.CreatedAt),
					PrincipalName: str(k.PrincipalName), PrincipalType: str(k.PrincipalType),
				}
			}
			if u := d.AwsIamUser; u != nil {
				res.Details.AwsIamUser = &types.AwsIamUserDetails{UserName: str(u.UserName)}
			}
		}
		resources[i] = res
	}
	var compliance *types.Compliance
	if c := f.Compliance; c != nil {
		compliance = &types.Compliance{Status: types.ComplianceStatus(c.Status), RelatedRequirements: c.RelatedRequirements}
	}
	return types.AwsSecurityFinding{
		Compliance:      compliance,
		SchemaVersion:   aws.String(f.SchemaVersion),
		Id:              aws.String(f.ID),
		ProductArn:      aws.String(f.ProductArn),
		GeneratorId:     aws.String(f.GeneratorID),
		AwsAccountId:    aws.String(f.AwsAccountID),
		Types:           f.Types,
		CreatedAt:       aws.String(f.CreatedAt),
		UpdatedAt:       aws.String(f.UpdatedAt),
		FirstObservedAt: str(f.FirstObservedAt),
		LastObservedAt:  str(f.LastObservedAt),
		Severity:        &types.Severity{Label: types.SeverityLabel(f.Severity.Label), Original: str(f.Severity.Original)},
		FindingProviderFields: &types.FindingProviderFields{
			Severity: &types.FindingProviderSeverity{
				Label: types.SeverityLabel(f.FindingProviderFields.Severity.Label), Original: str(f.FindingProviderFields.Severity.Original),
			},
			Types: f.FindingProviderFields.Types,
		},
		Title:         aws.String(f.Title),
		Description:   aws.String(f.Description),
		Remediation:   &types.Remediation{Recommendation: &types.Recommendation{Text: str(f.Remediation.Recommendation.Text)}},
		ProductFields: f.ProductFields,
		Resources:     resources,
		Workflow:      &types.Workflow{Status: types.WorkflowStatus(f.Workflow.Status)},
		RecordState:   types.RecordState(f.RecordState),
	}
}

func sortedKeys(m map[string]existing) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
