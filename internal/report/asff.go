package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
)

// FormatASFF is the AWS Security Finding Format.
const FormatASFF = "asff"

// ASFF constants: the schema version, the generator prefix, and the finding
// type every keywarden finding has.
const (
	ASFFSchemaVersion   = "2018-10-08"
	ASFFGeneratorPrefix = "keywarden/"
	ASFFType            = "Software and Configuration Checks/AWS Security Best Practices"
	// ASFFDefaultRegion is used when no region is known (offline reports).
	ASFFDefaultRegion = "us-east-1"
)

// Security Hub workflow statuses and record states keywarden sets.
const (
	ASFFWorkflowNew        = "NEW"
	ASFFWorkflowResolved   = "RESOLVED"
	ASFFWorkflowSuppressed = "SUPPRESSED"
	ASFFRecordActive       = "ACTIVE"
	ASFFRecordArchived     = "ARCHIVED"
)

// Length limits of ASFF fields (characters), from the Security Hub API.
const (
	asffTitleMax       = 256
	asffDescriptionMax = 1024
	asffRemediationMax = 512
)

// ASFFDocument is the --format asff output: the input of
// `aws securityhub batch-import-findings --cli-input-json` (which takes at
// most 100 findings; `keywarden scan --security-hub` batches for you).
type ASFFDocument struct {
	Findings []ASFFFinding `json:"Findings"`
}

// ASFFFinding is the subset of AwsSecurityFinding keywarden writes. Field
// names are ASFF's.
type ASFFFinding struct {
	SchemaVersion         string             `json:"SchemaVersion"`
	ID                    string             `json:"Id"`
	ProductArn            string             `json:"ProductArn"`
	GeneratorID           string             `json:"GeneratorId"`
	AwsAccountID          string             `json:"AwsAccountId"`
	Types                 []string           `json:"Types"`
	CreatedAt             string             `json:"CreatedAt"`
	UpdatedAt             string             `json:"UpdatedAt"`
	FirstObservedAt       string             `json:"FirstObservedAt"`
	LastObservedAt        string             `json:"LastObservedAt"`
	Severity              ASFFSeverity       `json:"Severity"`
	FindingProviderFields ASFFProviderFields `json:"FindingProviderFields"`
	Title                 string             `json:"Title"`
	Description           string             `json:"Description"`
	Remediation           ASFFRemediation    `json:"Remediation"`
	ProductFields         map[string]string  `json:"ProductFields"`
	Resources             []ASFFResource     `json:"Resources"`
	Workflow              ASFFWorkflow       `json:"Workflow"`
	RecordState           string             `json:"RecordState"`
	// Compliance is set for a finding whose rule maps to benchmark
	// controls, nil otherwise.
	Compliance *ASFFCompliance `json:"Compliance,omitempty"`
}

// ASFFCompliance is a finding's compliance with the benchmark controls
// its rule maps to: FAILED while the finding holds (exempt ones too: an
// exemption accepts the risk, it does not meet the control — their
// workflow is SUPPRESSED), PASSED once Security Hub sync resolves it.
type ASFFCompliance struct {
	Status              string   `json:"Status"`
	RelatedRequirements []string `json:"RelatedRequirements"`
}

// ASFF compliance statuses keywarden sets (Security Hub also has WARNING
// and NOT_AVAILABLE).
const (
	ASFFCompliancePassed = "PASSED"
	ASFFComplianceFailed = "FAILED"
)

// ASFFBenchmark names the benchmark in RelatedRequirements:
// "CIS AWS Foundations Benchmark v3.0.0/1.13".
const ASFFBenchmark = "CIS AWS Foundations Benchmark v3.0.0"

// Limits of Compliance.RelatedRequirements: at most 32 items (the
// Security Hub API), each kept within 256 characters.
const (
	asffRequirementsMax   = 32
	asffRequirementMaxLen = 256
)

// ASFFSeverity is a finding's severity: Label is Security Hub's, Original
// keywarden's.
type ASFFSeverity struct {
	Label    string `json:"Label"`
	Original string `json:"Original"`
}

// ASFFProviderFields carries the provider's severity and types, which
// Security Hub keeps apart from the customer's BatchUpdateFindings edits.
type ASFFProviderFields struct {
	Severity ASFFSeverity `json:"Severity"`
	Types    []string     `json:"Types"`
}

// ASFFRemediation says what to do.
type ASFFRemediation struct {
	Recommendation ASFFRecommendation `json:"Recommendation"`
}

// ASFFRecommendation is the remediation text.
type ASFFRecommendation struct {
	Text string `json:"Text"`
}

// ASFFResource is the IAM user, access key or account a finding is about.
type ASFFResource struct {
	Type      string               `json:"Type"`
	ID        string               `json:"Id"`
	Partition string               `json:"Partition"`
	Region    string               `json:"Region"`
	Details   *ASFFResourceDetails `json:"Details,omitempty"`
}

// ASFFResourceDetails holds the access key's or user's details.
type ASFFResourceDetails struct {
	AwsIamAccessKey *ASFFAccessKeyDetails `json:"AwsIamAccessKey,omitempty"`
	AwsIamUser      *ASFFUserDetails      `json:"AwsIamUser,omitempty"`
}

// ASFFAccessKeyDetails describes an access key.
type ASFFAccessKeyDetails struct {
	AccessKeyID   string `json:"AccessKeyId,omitempty"`
	AccountID     string `json:"AccountId"`
	CreatedAt     string `json:"CreatedAt,omitempty"`
	PrincipalName string `json:"PrincipalName"`
	PrincipalType string `json:"PrincipalType"`
}

// ASFFUserDetails describes an IAM user.
type ASFFUserDetails struct {
	UserName string `json:"UserName"`
}

// ASFFWorkflow is the finding's investigation status.
type ASFFWorkflow struct {
	Status string `json:"Status"`
}

// ASFFProductArn is the default product ARN of account in region: the one
// BatchImportFindings accepts from the account itself.
func ASFFProductArn(region, account string) string {
	return fmt.Sprintf("arn:%s:securityhub:%s:%s:product/%s/default", Partition(region), region, account, account)
}

// ASFFID is the finding's Security Hub ID: stable across runs because the
// finding ID is, and scoped by account.
func ASFFID(f *policy.Finding) string {
	return ASFFGeneratorPrefix + f.Account + "/" + f.ID
}

// Partition is the AWS partition of region.
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	}
	return "aws"
}

// ASFFSeverityLabel maps a keywarden severity to Security Hub's label:
// low LOW, medium MEDIUM, high HIGH, critical CRITICAL, anything else
// INFORMATIONAL.
func ASFFSeverityLabel(severity string) string {
	switch severity {
	case config.SeverityLow, config.SeverityMedium, config.SeverityHigh, config.SeverityCritical:
		return strings.ToUpper(severity)
	}
	return "INFORMATIONAL"
}

// ASFFFindings converts every finding of r to ASFF in region, stamped at
// the report's generation time (CreatedAt, UpdatedAt, FirstObservedAt and
// LastObservedAt; Security Hub sync keeps the first CreatedAt of findings it
// already holds). A finding that is not exempt is ACTIVE with workflow NEW;
// an exempt one is ARCHIVED and SUPPRESSED, with the exemption's reason.
func ASFFFindings(r *Report, region string) []ASFFFinding {
	region = cmp.Or(region, ASFFDefaultRegion)
	at := jsonTime(r.GeneratedAt).Format(time.RFC3339)
	asOf := jsonTime(r.AsOf).Format(time.RFC3339)
	out := make([]ASFFFinding, 0, len(r.Findings))
	for i := range r.Findings {
		f := &r.Findings[i]
		sev := ASFFSeverity{Label: ASFFSeverityLabel(f.Severity), Original: f.Severity}
		a := ASFFFinding{
			SchemaVersion:         ASFFSchemaVersion,
			ID:                    ASFFID(f),
			ProductArn:            ASFFProductArn(region, f.Account),
			GeneratorID:           ASFFGeneratorPrefix + f.Rule,
			AwsAccountID:          f.Account,
			Types:                 []string{ASFFType},
			CreatedAt:             at,
			UpdatedAt:             at,
			FirstObservedAt:       at,
			LastObservedAt:        at,
			Severity:              sev,
			FindingProviderFields: ASFFProviderFields{Severity: sev, Types: []string{ASFFType}},
			Title:                 truncateRunes(asffTitle(f), asffTitleMax),
			Description:           truncateRunes(cleanText(f.Reason), asffDescriptionMax),
			Remediation:           ASFFRemediation{ASFFRecommendation{Text: truncateRunes(asffRemediation(f), asffRemediationMax)}},
			ProductFields:         asffProductFields(f, asOf),
			Resources:             []ASFFResource{asffResource(f, region)},
			Workflow:              ASFFWorkflow{Status: ASFFWorkflowNew},
			RecordState:           ASFFRecordActive,
		}
		if f.Exempt {
			a.Workflow.Status, a.RecordState = ASFFWorkflowSuppressed, ASFFRecordArchived
		}
		if reqs := ASFFRequirements(f.Controls); len(reqs) > 0 {
			a.Compliance = &ASFFCompliance{Status: ASFFComplianceFailed, RelatedRequirements: reqs}
		}
		out = append(out, a)
	}
	return out
}

// ASFFRequirements are controls ("CIS 1.13") as Security Hub's related
// requirements ("CIS AWS Foundations Benchmark v3.0.0/1.13"), within its
// limits; nil for none.
func ASFFRequirements(controls []string) []string {
	var out []string
	for _, c := range controls {
		if len(out) == asffRequirementsMax {
			break
		}
		id, ok := strings.CutPrefix(c, "CIS ")
		if !ok {
			out = append(out, truncateRunes(cleanText(c), asffRequirementMaxLen))
			continue
		}
		out = append(out, truncateRunes(ASFFBenchmark+"/"+cleanText(id), asffRequirementMaxLen))
	}
	return out
}

func asffTitle(f *policy.Finding) string {
	user := cleanText(f.User)
	switch f.Rule {
	case config.RuleAccessKeyAge:
		return fmt.Sprintf("IAM access key %d of %s is %d days old (%s stage at %d days)", f.Slot, user, f.AgeDays, f.Action, f.StageAt)
	case config.RuleAccessKeyUnused:
		return fmt.Sprintf("IAM access key %d of %s unused for %d days", f.Slot, user, f.AgeDays)
	case config.RulePasswordExpiry:
		if f.DaysLeft != nil && *f.DaysLeft <= 0 {
			return fmt.Sprintf("IAM console password of %s has expired", user)
		}
		return fmt.Sprintf("IAM console password of %s expires soon", user)
	case config.RulePasswordUnused:
		return fmt.Sprintf("IAM console password of %s unused for %d days", user, f.AgeDays)
	case config.RuleMFAMissing:
		return fmt.Sprintf("IAM user %s has a console password without MFA", user)
	case config.RuleRootAccessKey:
		return "The root user has an active access key"
	case config.RuleAccessKeyUnknownAge:
		return fmt.Sprintf("IAM access key %d of %s has a missing or future creation date", f.Slot, user)
	case config.RuleAccessKeyAtSetup:
		return fmt.Sprintf("IAM access key %d of %s was created with the user and never used", f.Slot, user)
	case config.RuleTwoActiveKeys:
		return fmt.Sprintf("IAM user %s has two active access keys", user)
	case config.RuleSigningCertAge:
		return fmt.Sprintf("IAM signing certificate %d of %s is %d days old (%s stage at %d days)", f.Slot, user, f.AgeDays, f.Action, f.StageAt)
	case config.RuleServiceCredentialAge:
		return fmt.Sprintf("%s of %s is %d days old (%s stage at %d days)", asffServiceCredential(f), user, f.AgeDays, f.Action, f.StageAt)
	case config.RuleServiceCredentialExpiry:
		if f.DaysLeft != nil && *f.DaysLeft <= 0 {
			return fmt.Sprintf("%s of %s has expired", asffServiceCredential(f), user)
		}
		return fmt.Sprintf("%s of %s expires soon", asffServiceCredential(f), user)
	case config.RuleSSHKeyAge:
		return fmt.Sprintf("SSH public key of %s is %d days old", user, f.AgeDays)
	case config.RuleConsoleAndKeys:
		return fmt.Sprintf("IAM user %s has a console password and active access keys", user)
	case config.RuleDormantUser:
		return fmt.Sprintf("IAM user %s has used no credential for %d days", user, f.AgeDays)
	case config.RulePasswordPolicy:
		return "The account password policy does not meet the configured strength"
	case config.RuleRootRecentUse:
		return "The root user was used recently"
	case config.RuleRootSigningCert:
		return "The root user has an active signing certificate"
	}
	return fmt.Sprintf("%s: %s", f.Rule, user)
}

// asffServiceCredential names a service-specific credential:
// "Service-specific credential (codecommit)".
func asffServiceCredential(f *policy.Finding) string {
	if svc := serviceName(f.Service); svc != "" {
		return "Service-specific credential (" + cleanText(svc) + ")"
	}
	return "Service-specific credential"
}

func asffRemediation(f *policy.Finding) string {
	switch f.Rule {
	case config.RuleAccessKeyAge:
		return "Rotate the access key: create a new key, move its users to it, then deactivate and delete the old one."
	case config.RuleAccessKeyUnused:
		return "Deactivate the unused access key, then delete it if nothing breaks."
	case config.RulePasswordExpiry:
		return "Change the console password, or remove it if the user no longer signs in to the console."
	case config.RulePasswordUnused:
		return "Remove the unused console password (delete the login profile)."
	case config.RuleMFAMissing:
		return "Enable an MFA device for the user, or remove the console password."
	case config.RuleRootAccessKey:
		return "Delete the root user's access keys; use IAM roles or users instead."
	case config.RuleAccessKeyUnknownAge:
		return "Find out when and by whom the access key was created (CloudTrail CreateAccessKey); rotate it."
	case config.RuleAccessKeyAtSetup:
		return "Delete the unused access key; create keys only when the user needs one."
	case config.RuleTwoActiveKeys:
		return "Keep one active access key: move its users to one key, then deactivate and delete the other."
	case config.RuleSigningCertAge:
		return "Rotate the signing certificate: upload a new one, move its users to it, then deactivate and delete the old one."
	case config.RuleServiceCredentialAge:
		return "Rotate the service-specific credential: reset it or create a new one, then deactivate and delete the old one."
	case config.RuleServiceCredentialExpiry:
		return "Replace the service-specific credential before it expires, then delete the old one."
	case config.RuleSSHKeyAge:
		return "Rotate the SSH public key: upload a new one, then deactivate and delete the old one."
	case config.RuleConsoleAndKeys:
		return "Give people console access and machines access keys, not one user both."
	case config.RuleDormantUser:
		return "Remove the dormant user's credentials, or the user, if nobody needs them."
	case config.RulePasswordPolicy:
		return "Set the account password policy to a minimum length of at least 14 and reuse prevention of 24."
	case config.RuleRootRecentUse:
		return "Use IAM roles or users for daily tasks; keep the root user for the tasks only it can do."
	case config.RuleRootSigningCert:
		return "Delete the root user's signing certificates."
	}
	return "See the keywarden report."
}

func asffProductFields(f *policy.Finding, asOf string) map[string]string {
	m := map[string]string{
		"keywarden/finding_id": f.ID,
		"keywarden/rule":       f.Rule,
		"keywarden/credential": f.Credential,
		"keywarden/class":      cleanText(f.Class),
		"keywarden/action":     f.Action,
		"keywarden/severity":   f.Severity,
		"keywarden/age_days":   strconv.Itoa(f.AgeDays),
		"keywarden/stage_at":   strconv.Itoa(f.StageAt),
		"keywarden/as_of":      asOf,
		"keywarden/user":       cleanText(f.User),
	}
	if f.Slot > 0 {
		m["keywarden/slot"] = strconv.Itoa(f.Slot)
	}
	if f.KeyID != "" {
		m["keywarden/key_id"] = f.KeyID
	}
	if f.Service != "" {
		m["keywarden/service"] = cleanText(f.Service)
	}
	if len(f.Controls) > 0 {
		m["keywarden/controls"] = truncateRunes(cleanText(strings.Join(f.Controls, ", ")), 1024)
	}
	if f.NextStageOn != nil {
		m["keywarden/next_stage_on"] = f.NextStageOn.String()
	}
	if f.DaysLeft != nil {
		m["keywarden/days_left"] = strconv.Itoa(*f.DaysLeft)
	}
	if f.Exempt {
		m["keywarden/exempt_reason"] = truncateRunes(cleanText(f.ExemptReason), 1024)
	}
	if f.ClassFromTag != "" {
		m["keywarden/class_from_tag"] = truncateRunes(cleanText(f.ClassFromTag), 1024)
	}
	if f.Exempt && f.ExemptFromTag != "" {
		m["keywarden/exempt_from_tag"] = truncateRunes(cleanText(f.ExemptFromTag), 1024)
	}
	return m
}

// asffResource is the finding's resource: the access key when its ID is
// known (AwsIamAccessKey, "AWS::IAM::AccessKey:ID"); the account for root
// and for account-level findings (AwsAccount); else the IAM user — also
// for signing certificates, service-specific credentials and SSH keys,
// which ASFF has no resource type for (their IDs are in ProductFields) (AwsIamUser, its ARN without the path,
// which the finding does not carry).
func asffResource(f *policy.Finding, region string) ASFFResource {
	part := Partition(region)
	switch {
	case f.Credential == policy.CredentialRoot || f.Credential == policy.CredentialAccount || f.User == "<root_account>" || f.User == policy.AccountUser:
		return ASFFResource{Type: "AwsAccount", ID: "AWS::::Account:" + f.Account, Partition: part, Region: region}
	case f.Credential == policy.CredentialAccessKey && f.KeyID != "":
		d := &ASFFAccessKeyDetails{
			AccessKeyID: f.KeyID, AccountID: f.Account, PrincipalName: f.User, PrincipalType: "IAMUser",
		}
		if !f.KeyCreatedAt.IsZero() {
			d.CreatedAt = f.KeyCreatedAt.UTC().Format(time.RFC3339)
		}
		return ASFFResource{Type: "AwsIamAccessKey", ID: "AWS::IAM::AccessKey:" + f.KeyID, Partition: part, Region: region,
			Details: &ASFFResourceDetails{AwsIamAccessKey: d}}
	}
	return ASFFResource{
		Type: "AwsIamUser", ID: fmt.Sprintf("arn:%s:iam::%s:user/%s", part, f.Account, f.User), Partition: part, Region: region,
		Details: &ASFFResourceDetails{AwsIamUser: &ASFFUserDetails{UserName: f.User}},
	}
}

// truncateRunes cuts s to at most n characters, ending with "…" when cut.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// renderASFF writes {"Findings": [...]} with a two-space indent and a
// trailing newline. The region is Options.Region (default us-east-1).
func renderASFF(w io.Writer, r *Report, o Options) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(ASFFDocument{Findings: ASFFFindings(r, o.Region)})
}
