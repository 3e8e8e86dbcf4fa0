package report

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

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
	var doc map[string][]map[string]any
	if err := json.Unmarshal([]byte(render(t, sampleReport(), FormatASFF, Options{})), &doc); err != nil {
		t.Fatal(err)
	}
	required := []string{"SchemaVersion", "Id", "ProductArn", "GeneratorId", "AwsAccountId", "Types", "CreatedAt", "UpdatedAt",
		"Severity", "Title", "Description", "Resources"}
	for i, f := range doc["Findings"] {
		for _, k := range required {
			if _, ok := f[k]; !ok {
				t.Errorf("Findings[%d] lacks %s, which BatchImportFindings requires", i, k)
			}
		}
	}
	if empty := render(t, emptyReport(), FormatASFF, Options{}); empty != "{\n  \"Findings\": []\n}\n" {
		t.Errorf("empty ASFF = %q; want an empty Findings array", empty)
	}
}
