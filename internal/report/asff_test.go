package report

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
)

func TestASFFSeverityLabel(t *testing.T) {
	for in, want := range map[string]string{
		"low": "LOW", "medium": "MEDIUM", "high": "HIGH", "critical": "CRITICAL", "": "INFORMATIONAL", "urgent": "INFORMATIONAL",
	} {
		if got := ASFFSeverityLabel(in); got != want {
			t.Errorf("ASFFSeverityLabel(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestPartitionAndProductArn(t *testing.T) {
	for region, want := range map[string]string{
		"us-east-1":     "arn:aws:securityhub:us-east-1:111111111111:product/111111111111/default",
		"cn-north-1":    "arn:aws-cn:securityhub:cn-north-1:111111111111:product/111111111111/default",
		"us-gov-west-1": "arn:aws-us-gov:securityhub:us-gov-west-1:111111111111:product/111111111111/default",
	} {
		if got := ASFFProductArn(region, "111111111111"); got != want {
			t.Errorf("ASFFProductArn(%s) = %s; want %s", region, got, want)
		}
	}
}

// TestASFFFindings checks the mapping of the sample report: stable IDs
// scoped by account, generator per rule, resources per credential, and
// exempt findings archived and suppressed.
func TestASFFFindings(t *testing.T) {
	r := sampleReport()
	got := ASFFFindings(r, "")
	if len(got) != len(r.Findings) {
		t.Fatalf("ASFFFindings() = %d findings; want %d", len(got), len(r.Findings))
	}
	byID := map[string]ASFFFinding{}
	for _, f := range got {
		byID[f.ID] = f
	}
	alice := byID["keywarden/111111111111/3f9c1a7be2d04c11"]
	if alice.GeneratorID != "keywarden/access_key_age" || alice.ProductArn != ASFFProductArn("us-east-1", "111111111111") ||
		alice.Resources[0].Type != "AwsIamAccessKey" || alice.Resources[0].ID != "AWS::IAM::AccessKey:AKIAIOSFODNN7EXAMPLE" ||
		alice.Resources[0].Details.AwsIamAccessKey.CreatedAt != "2026-08-24T10:00:00Z" || alice.Severity.Label != "HIGH" ||
		alice.RecordState != "ACTIVE" || alice.Workflow.Status != "NEW" {
		t.Errorf("alice's key finding = %+v", alice)
	}
	legacy := byID["keywarden/111111111111/d15ab1ed00c1e9ac"]
	if legacy.RecordState != ASFFRecordArchived || legacy.Workflow.Status != ASFFWorkflowSuppressed ||
		legacy.ProductFields["keywarden/exempt_reason"] != "vendor rotates on 2027-01-31" {
		t.Errorf("exempt finding: %s/%s %v; want ARCHIVED/SUPPRESSED with the reason", legacy.RecordState, legacy.Workflow.Status, legacy.ProductFields)
	}
	pw := byID["keywarden/111111111111/e7e7e7e7a1b2c3d4"]
	if pw.Resources[0].Type != "AwsIamUser" || pw.Resources[0].ID != "arn:aws:iam::111111111111:user/"+userHTMLPipe ||
		pw.Title != "IAM console password of "+userHTMLPipe+" has expired" || pw.ProductFields["keywarden/days_left"] != "-3" {
		t.Errorf("password finding = %+v", pw)
	}
	ansi := byID["keywarden/111111111111/0a0b0c0d0e0f1011"]
	if strings.ContainsRune(ansi.Title, '\x1b') || strings.ContainsRune(ansi.ProductFields["keywarden/user"], '\x1b') {
		t.Errorf("title %q keeps a terminal escape from the user name", ansi.Title)
	}
	if root := byID["keywarden/111111111111/9999aaaabbbbcccc"]; root.Resources[0].Type != "AwsAccount" {
		t.Errorf("root finding resource = %+v; want AwsAccount", root.Resources[0])
	}
}

// checkASFFCompliance checks a Compliance object against the Security
// Hub API: Status one of PASSED, WARNING, FAILED, NOT_AVAILABLE;
// RelatedRequirements at most 32 items, each 1 to 256 characters.
func checkASFFCompliance(t *testing.T, where string, v any) {
	t.Helper()
	c, ok := v.(map[string]any)
	if !ok {
		t.Errorf("%s.Compliance = %#v; want an object", where, v)
		return
	}
	switch c["Status"] {
	case "PASSED", "WARNING", "FAILED", "NOT_AVAILABLE":
	default:
		t.Errorf("%s.Compliance.Status = %#v; want PASSED, WARNING, FAILED or NOT_AVAILABLE", where, c["Status"])
	}
	reqs, _ := c["RelatedRequirements"].([]any)
	if len(reqs) == 0 || len(reqs) > 32 {
		t.Errorf("%s.Compliance.RelatedRequirements has %d items; want 1 to 32", where, len(reqs))
	}
	for j, r := range reqs {
		if s, _ := r.(string); s == "" || utf8.RuneCountInString(s) > 256 {
			t.Errorf("%s.Compliance.RelatedRequirements[%d] = %#v; want 1 to 256 characters", where, j, r)
		}
	}
}

// TestASFFCompliance: a finding with controls is FAILED with each
// control as the benchmark's requirement, exempt ones too; a finding
// without controls has no Compliance.
func TestASFFCompliance(t *testing.T) {
	byID := map[string]ASFFFinding{}
	for _, f := range ASFFFindings(complianceReport(), "") {
		byID[f.ID] = f
	}
	tests := []struct {
		id   string
		want *ASFFCompliance
	}{
		{"keywarden/111111111111/c5c5c5c5c5c5c5c5", &ASFFCompliance{"FAILED", []string{"CIS AWS Foundations Benchmark v3.0.0/1.13"}}},
		{"keywarden/111111111111/c9c9c9c9c9c9c9c9", &ASFFCompliance{"FAILED", []string{
			"CIS AWS Foundations Benchmark v3.0.0/1.8", "CIS AWS Foundations Benchmark v3.0.0/1.9"}}},
		{"keywarden/333333333333/cececececececece", &ASFFCompliance{"FAILED", []string{"CIS AWS Foundations Benchmark v3.0.0/1.14"}}},
		{"keywarden/111111111111/c1c1c1c1c1c1c1c1", nil},
		{"keywarden/111111111111/c7c7c7c7c7c7c7c7", nil},
	}
	for _, tt := range tests {
		f, ok := byID[tt.id]
		if !ok {
			t.Fatalf("no ASFF finding %s", tt.id)
		}
		if diff := cmp.Diff(tt.want, f.Compliance); diff != "" {
			t.Errorf("%s Compliance differs (-want +got):\n%s", tt.id, diff)
		}
	}
	many := make([]string, 40)
	for i := range many {
		many[i] = "CIS " + strings.Repeat("9", 300)
	}
	reqs := ASFFRequirements(many)
	if len(reqs) != 32 {
		t.Errorf("ASFFRequirements of 40 controls = %d items; want 32, Security Hub's limit", len(reqs))
	}
	for _, r := range reqs {
		if n := utf8.RuneCountInString(r); n != 256 {
			t.Errorf("a requirement of a 300-digit control is %d characters; want 256", n)
			break
		}
	}
}

// TestASFFNewCredentialKinds: resources, titles and product fields of
// the new credential kinds and of account-level findings.
func TestASFFNewCredentialKinds(t *testing.T) {
	byID := map[string]ASFFFinding{}
	for _, f := range ASFFFindings(complianceReport(), "eu-west-1") {
		byID[f.ID] = f
	}
	tests := []struct {
		id, resType, resID, title, keyID, service string
	}{
		{"keywarden/111111111111/c1c1c1c1c1c1c1c1", "AwsIamUser", "arn:aws:iam::111111111111:user/deploy",
			"IAM signing certificate 2 of deploy is 400 days old (disable stage at 365 days)", "ASCACKCEVSQ6C2EXAMPLE", ""},
		{"keywarden/111111111111/c2c2c2c2c2c2c2c2", "AwsIamUser", "arn:aws:iam::111111111111:user/git-user",
			"Service-specific credential (codecommit) of git-user is 120 days old (notify stage at 90 days)", "ACCAQFODSV5EXAMPLE01", "codecommit.amazonaws.com"},
		{"keywarden/111111111111/c3c3c3c3c3c3c3c3", "AwsIamUser", "arn:aws:iam::111111111111:user/bedrock-app",
			"Service-specific credential (bedrock) of bedrock-app has expired", "ACCABEDROCKEXAMPLE02", "bedrock.amazonaws.com"},
		{"keywarden/111111111111/c4c4c4c4c4c4c4c4", "AwsIamUser", "arn:aws:iam::111111111111:user/git-user",
			"SSH public key of git-user is 500 days old", "APKAEIBAERJR2EXAMPLE", ""},
		{"keywarden/111111111111/c9c9c9c9c9c9c9c9", "AwsAccount", "AWS::::Account:111111111111",
			"The account password policy does not meet the configured strength", "", ""},
		{"keywarden/111111111111/cbcbcbcbcbcbcbcb", "AwsAccount", "AWS::::Account:111111111111",
			"The root user has an active signing certificate", "", ""},
	}
	for _, tt := range tests {
		f := byID[tt.id]
		if len(f.Resources) != 1 || f.Resources[0].Type != tt.resType || f.Resources[0].ID != tt.resID {
			t.Errorf("%s resources = %+v; want %s %s", tt.id, f.Resources, tt.resType, tt.resID)
		}
		if f.Title != tt.title {
			t.Errorf("%s title = %q; want %q", tt.id, f.Title, tt.title)
		}
		if f.ProductFields["keywarden/key_id"] != tt.keyID || f.ProductFields["keywarden/service"] != tt.service {
			t.Errorf("%s key_id, service = %q, %q; want %q, %q", tt.id, f.ProductFields["keywarden/key_id"], f.ProductFields["keywarden/service"], tt.keyID, tt.service)
		}
		if f.Remediation.Recommendation.Text == "See the keywarden report." {
			t.Errorf("%s has no rule-specific remediation", tt.id)
		}
	}
}

func TestASFFLimits(t *testing.T) {
	f := policy.Finding{ID: "x", Account: "111111111111", User: strings.Repeat("é", 300), Credential: policy.CredentialMFA,
		Rule: config.RuleMFAMissing, Severity: "high", Reason: strings.Repeat("r", 2000)}
	got := ASFFFindings(New(sampleReport().GeneratedAt, sampleReport().AsOf, nil, []policy.Finding{f}), "eu-west-1")[0]
	if n := utf8.RuneCountInString(got.Title); n != 256 || !strings.HasSuffix(got.Title, "…") {
		t.Errorf("title is %d characters; want 256, ending in …", n)
	}
	if n := utf8.RuneCountInString(got.Description); n != 1024 {
		t.Errorf("description is %d characters; want 1024", n)
	}
}

func TestASFFDocumentShape(t *testing.T) {
	for name, r := range map[string]*Report{"sample": sampleReport(), "compliance": complianceReport()} {
		var doc map[string][]map[string]any
		if err := json.Unmarshal([]byte(render(t, r, FormatASFF, Options{})), &doc); err != nil {
			t.Fatal(err)
		}
		required := []string{"SchemaVersion", "Id", "ProductArn", "GeneratorId", "AwsAccountId", "Types", "CreatedAt", "UpdatedAt",
			"Severity", "Title", "Description", "Resources"}
		for i, f := range doc["Findings"] {
			for _, k := range required {
				if _, ok := f[k]; !ok {
					t.Errorf("%s: Findings[%d] lacks %s, which BatchImportFindings requires", name, i, k)
				}
			}
			if c, ok := f["Compliance"]; ok {
				checkASFFCompliance(t, fmt.Sprintf("%s: Findings[%d]", name, i), c)
			}
		}
	}
	if empty := render(t, emptyReport(), FormatASFF, Options{}); empty != "{\n  \"Findings\": []\n}\n" {
		t.Errorf("empty ASFF = %q; want an empty Findings array", empty)
	}
}
