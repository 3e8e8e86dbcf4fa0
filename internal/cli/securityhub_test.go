package cli

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sh "github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/securityhub"
)

const hubRegion = "eu-west-1"

// fakeCaller answers GetCallerIdentity with one account.
type fakeCaller string

func (c fakeCaller) GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	return &sts.GetCallerIdentityOutput{Account: aws.String(string(c))}, nil
}

// fakeHub is an in-memory Security Hub: GetFindings returns everything it
// holds (one page, by ID), an import stores by ID. It records every import
// and update; importErr fails every import, reject rejects those IDs.
type fakeHub struct {
	held      map[string]types.AwsSecurityFinding
	imports   [][]types.AwsSecurityFinding
	updates   []*sh.BatchUpdateFindingsInput
	importErr error
	reject    map[string]bool
}

var _ securityhub.API = (*fakeHub)(nil)

func (h *fakeHub) GetFindings(context.Context, *sh.GetFindingsInput, ...func(*sh.Options)) (*sh.GetFindingsOutput, error) {
	out := &sh.GetFindingsOutput{}
	for _, id := range slices.Sorted(maps.Keys(h.held)) {
		out.Findings = append(out.Findings, h.held[id])
	}
	return out, nil
}

func (h *fakeHub) BatchImportFindings(_ context.Context, in *sh.BatchImportFindingsInput, _ ...func(*sh.Options)) (*sh.BatchImportFindingsOutput, error) {
	h.imports = append(h.imports, in.Findings)
	if h.importErr != nil {
		return nil, h.importErr
	}
	out := &sh.BatchImportFindingsOutput{}
	for _, f := range in.Findings {
		if id := aws.ToString(f.Id); h.reject[id] {
			out.FailedFindings = append(out.FailedFindings, types.ImportFindingsError{
				Id: f.Id, ErrorCode: aws.String("InvalidInput"), ErrorMessage: aws.String("rejected by the test"),
			})
			continue
		}
		h.held[aws.ToString(f.Id)] = f
	}
	return out, nil
}

func (h *fakeHub) BatchUpdateFindings(_ context.Context, in *sh.BatchUpdateFindingsInput, _ ...func(*sh.Options)) (*sh.BatchUpdateFindingsOutput, error) {
	h.updates = append(h.updates, in)
	return &sh.BatchUpdateFindingsOutput{}, nil
}

// imported lists the IDs of every finding imported, with its record state.
func (h *fakeHub) imported() []string {
	var out []string
	for _, batch := range h.imports {
		for _, f := range batch {
			out = append(out, aws.ToString(f.Id)+" "+string(f.RecordState))
		}
	}
	slices.Sort(out)
	return out
}

// useFakeHub makes postSecurityHub talk to hub as caller, in hubRegion.
func useFakeHub(t *testing.T, f *Factory, caller string, hub *fakeHub) {
	t.Helper()
	f.SecurityHubClients = func(aws.Config) (callerIdentifier, securityhub.API) { return fakeCaller(caller), hub }
	f.LoadAWSConfig = func(context.Context, awsapi.Options) (aws.Config, error) {
		return aws.Config{Region: hubRegion}, nil
	}
}

// activeFinding is a keywarden finding Security Hub holds for account from
// an earlier sync.
func activeFinding(account, findingID string) types.AwsSecurityFinding {
	return types.AwsSecurityFinding{
		Id: aws.String("keywarden/" + account + "/" + findingID), ProductArn: aws.String(report.ASFFProductArn(hubRegion, account)),
		AwsAccountId: aws.String(account), GeneratorId: aws.String("keywarden/access_key_age"),
		SchemaVersion: aws.String("2018-10-08"), RecordState: types.RecordStateActive,
		Workflow: &types.Workflow{Status: types.WorkflowStatusNew},
	}
}

func keyFinding(id, account, user string) policy.Finding {
	return policy.Finding{
		ID: id, Account: account, User: user, Class: "human", Credential: policy.CredentialAccessKey, Slot: 1,
		KeyID: "AKIA" + strings.ToUpper(id), Rule: config.RuleAccessKeyAge, AgeDays: 91, StageAt: 90,
		Action: config.ActionDelete, Severity: config.SeverityHigh, Reason: "access key 1 is 91 days old",
	}
}

// TestPostSecurityHubSkipsFailedAndOtherAccounts: of a report over the
// caller's account, an account whose scan failed and another account, only
// the caller's findings are imported and resolved. Security Hub's findings
// of the other two stay active: nothing of theirs is imported, archived or
// marked RESOLVED, and each skip is a warning.
func TestPostSecurityHubSkipsFailedAndOtherAccounts(t *testing.T) {
	const caller, failed, other = "111111111111", "222222222222", "333333333333"
	f, _, errOut := testFactory(false)
	hub := &fakeHub{held: map[string]types.AwsSecurityFinding{}}
	for _, h := range []types.AwsSecurityFinding{
		activeFinding(caller, "00000000000000aa"), // alice's: still found
		activeFinding(caller, "00000000000000ff"), // gone: resolved
		activeFinding(failed, "00000000000000bb"), // unknown: the scan failed
		activeFinding(other, "00000000000000cc"),  // not in this report, but not the caller's
	} {
		hub.held[aws.ToString(h.Id)] = h
	}
	useFakeHub(t, f, caller, hub)
	now := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	rep := report.New(now, now, []report.Account{
		{ID: caller, Status: report.StatusOK},
		{ID: failed, Status: report.StatusError, Error: "AccessDenied"},
		{ID: other, Status: report.StatusOK},
	}, []policy.Finding{
		keyFinding("00000000000000aa", caller, "alice"),
		keyFinding("00000000000000dd", other, "dave"),
	})

	if err := postSecurityHub(context.Background(), f, &ScanOptions{}, rep); err != nil {
		t.Fatalf("postSecurityHub = %v; want nil", err)
	}
	wantImported := []string{
		"keywarden/111111111111/00000000000000aa ACTIVE",
		"keywarden/111111111111/00000000000000ff ARCHIVED",
	}
	if got := hub.imported(); !slices.Equal(got, wantImported) {
		t.Errorf("imported %q; want only the caller's findings %q", got, wantImported)
	}
	var updated []string
	for _, u := range hub.updates {
		for _, id := range u.FindingIdentifiers {
			updated = append(updated, aws.ToString(id.Id)+" "+aws.ToString(id.ProductArn)+" "+string(u.Workflow.Status))
		}
	}
	wantUpdated := []string{"keywarden/111111111111/00000000000000ff " + report.ASFFProductArn(hubRegion, caller) + " RESOLVED"}
	if !slices.Equal(updated, wantUpdated) {
		t.Errorf("workflow updates %q; want only the caller's gone finding %q", updated, wantUpdated)
	}
	for _, id := range []string{"keywarden/222222222222/00000000000000bb", "keywarden/333333333333/00000000000000cc"} {
		if h := hub.held[id]; h.RecordState != types.RecordStateActive {
			t.Errorf("%s is %s after the sync; want it left ACTIVE", id, h.RecordState)
		}
	}
	for _, want := range []string{
		`msg="security hub: account not synced: its scan failed" account=222222222222`,
		`msg="security hub: account not synced: findings can only be imported from the account itself" account=333333333333 caller=111111111111`,
		`msg="security hub: synced" accounts=1 region=eu-west-1`,
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, errOut)
		}
	}
}

// TestScanSecurityHubImportFailureExits1AfterTheReport: when the import
// fails — the call, or findings Security Hub rejects — `scan
// --security-hub` exits 1 with the error, and the report has been written.
func TestScanSecurityHubImportFailureExits1AfterTheReport(t *testing.T) {
	const caller = "123456789012" // the account of writeReportFile's report
	for _, tt := range []struct {
		name    string
		hub     *fakeHub
		wantErr string
	}{
		{"import call fails", &fakeHub{importErr: errors.New("throttled by the test")},
			"security hub: import security hub findings of 123456789012: throttled by the test"},
		{"finding rejected", &fakeHub{reject: map[string]bool{}},
			"security hub: import security hub findings of 123456789012: 1 rejected: keywarden/123456789012/"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, out, errOut := testFactory(false)
			tt.hub.held = map[string]types.AwsSecurityFinding{}
			useFakeHub(t, f, caller, tt.hub)
			path := filepath.Join(t.TempDir(), "report.json")
			args := []string{"scan", "--credential-report", writeReportFile(t), "--as-of", "2026-11-23", "--security-hub", "-o", path}
			if tt.hub.reject != nil {
				// Reject alice's finding, the report's only one.
				rep := scanReport(t, writeReportFile(t))
				tt.hub.reject[report.ASFFID(&rep.Findings[0])] = true
			}

			if code := Main(context.Background(), f, args); code != ExitError {
				t.Errorf("Main(%q) = %d; want %d (stderr: %s)", args, code, ExitError, errOut)
			}
			if !strings.Contains(errOut.String(), tt.wantErr) {
				t.Errorf("stderr = %q; want it to contain %q", errOut, tt.wantErr)
			}
			if len(tt.hub.imports) != 1 || len(tt.hub.imports[0]) != 1 {
				t.Errorf("import calls = %d; want 1 with alice's finding", len(tt.hub.imports))
			}
			if out.Len() != 0 {
				t.Errorf("stdout = %q; want nothing (the report goes to --output)", out)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("the report was not written before the failure: %v", err)
			}
			var rep report.Report
			if err := json.Unmarshal(b, &rep); err != nil || len(rep.Findings) != 1 || rep.Findings[0].User != "alice" {
				t.Errorf("report written = %s (%v); want the JSON report with alice's finding", b, err)
			}
		})
	}
}

// scanReport is the JSON report of an offline scan of credentialReport.
func scanReport(t *testing.T, credentialReport string) report.Report {
	t.Helper()
	f, out, errOut := testFactory(false)
	if code := Main(context.Background(), f, []string{"scan", "--credential-report", credentialReport, "--as-of", "2026-11-23"}); code != 0 {
		t.Fatalf("scan exit %d: %s", code, errOut)
	}
	var rep report.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || len(rep.Findings) == 0 {
		t.Fatalf("scan output = %s (%v); want a JSON report with findings", out, err)
	}
	return rep
}

func TestScanFlagsParseSecurityHub(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want bool
	}{{nil, false}, {[]string{"--security-hub"}, true}} {
		f, _, _ := testFactory(false)
		var got *ScanOptions
		cmd := NewCmdScan(f, func(_ context.Context, o *ScanOptions) error { got = o; return nil })
		cmd.SetArgs(tt.args)
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		if got.SecurityHub != tt.want {
			t.Errorf("scan %q: SecurityHub = %v; want %v", tt.args, got.SecurityHub, tt.want)
		}
	}
}
