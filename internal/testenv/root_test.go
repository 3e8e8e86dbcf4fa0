package testenv

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keywarden/keywarden/internal/inventory"
)

// rootReport generates the default account's credential report and
// parses it with keywarden's parser; it returns the parsed report and the
// raw root row.
func rootReport(t *testing.T, client *iam.Client) (*inventory.CredentialReport, string) {
	t.Helper()
	ctx := context.Background()
	if _, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{}); err != nil {
		t.Fatal(err)
	}
	out, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := inventory.ParseCredentialReport(bytes.NewReader(out.Content))
	if err != nil {
		t.Fatalf("parse the credential report: %v", err)
	}
	lines := strings.Split(string(out.Content), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[1], inventory.RootUserName+",") {
		t.Fatalf("the report's first row is not root's:\n%s", out.Content)
	}
	return rep, lines[1]
}

// rootSummary is GetAccountSummary's three root flags.
func rootSummary(t *testing.T, client *iam.Client) (mfa, keys, certs int32) {
	t.Helper()
	out, err := client.GetAccountSummary(context.Background(), &iam.GetAccountSummaryInput{})
	if err != nil {
		t.Fatal(err)
	}
	m := out.SummaryMap
	return m[string(types.SummaryKeyTypeAccountMFAEnabled)], m[string(types.SummaryKeyTypeAccountAccessKeysPresent)],
		m[string(types.SummaryKeyTypeAccountSigningCertificatesPresent)]
}

// TestRootDefault: without SetRoot, the report's first row is a root with
// MFA, a password never used, no key and no certificate, created 1000
// days ago, as IAM writes a root row; the summary agrees.
func TestRootDefault(t *testing.T) {
	m := Moto(t)
	client := iam.NewFromConfig(m.Config(t))
	rep, row := rootReport(t, client)
	want := "<root_account>,arn:aws:iam::" + AccountID + ":root,"
	if !strings.HasPrefix(row, want) {
		t.Errorf("root row %q; want it to start with %q", row, want)
	}
	cols := strings.Split(row, ",")
	if len(cols) != 22 {
		t.Fatalf("root row has %d columns; want 22: %q", len(cols), row)
	}
	// password_enabled .. mfa_active, then the key and certificate slots.
	wantCols := []string{"not_supported", "no_information", "not_supported", "not_supported", "true",
		"false", "N/A", "N/A", "N/A", "N/A", "false", "N/A", "N/A", "N/A", "N/A", "false", "N/A", "false", "N/A"}
	if got := strings.Join(cols[3:], ","); got != strings.Join(wantCols, ",") {
		t.Errorf("root columns from password_enabled: %s\nwant %s", got, strings.Join(wantCols, ","))
	}
	r := rep.Root
	if r == nil {
		t.Fatal("the parser found no root row")
	}
	if !r.PasswordEnabled || !r.PasswordLastUsed.IsZero() || !r.MFAActive || len(r.AccessKeys) != 0 || len(r.SigningCerts) != 0 {
		t.Errorf("parsed root = %+v; want a password never used, MFA, no key, no certificate", r)
	}
	if d := daysSince(r.CreatedAt); d != 1000 {
		t.Errorf("root created %d days ago; want 1000", d)
	}
	if mfa, keys, certs := rootSummary(t, client); mfa != 1 || keys != 0 || certs != 0 {
		t.Errorf("summary AccountMFAEnabled=%d AccountAccessKeysPresent=%d AccountSigningCertificatesPresent=%d; want 1 0 0",
			mfa, keys, certs)
	}
}

// TestSetRoot: SetRoot's root reaches the report row (parsed by
// keywarden's parser) and the summary flags; a later SetRoot replaces it
// whole.
func TestSetRoot(t *testing.T) {
	m := Moto(t)
	client := iam.NewFromConfig(m.Config(t))
	m.SetRoot(t, "", Root{
		NoMFA: true, PasswordUsed: Used(2), CreatedDaysAgo: 3000,
		Key1: RootActive, KeyAgeDays: 400, KeyUsed: Used(5),
		Cert1: RootInactive, CertAgeDays: 90,
	})
	rep, row := rootReport(t, client)
	r := rep.Root
	if r == nil {
		t.Fatal("the parser found no root row")
	}
	if !r.PasswordEnabled || daysSince(r.PasswordLastUsed) != 2 || r.MFAActive || daysSince(r.CreatedAt) != 3000 {
		t.Errorf("parsed root = %+v; want a password used 2 days ago, no MFA, created 3000 days ago", r)
	}
	if !strings.Contains(row, ",not_supported,not_supported,false,") {
		t.Errorf("root row %q: want password_last_changed and password_next_rotation not_supported, mfa_active false", row)
	}
	if len(r.AccessKeys) != 1 || !r.AccessKeys[0].Active || daysSince(r.AccessKeys[0].CreatedAt) != 400 ||
		daysSince(r.AccessKeys[0].LastUsedAt) != 5 || r.AccessKeys[0].LastUsedRegion != "us-east-1" {
		t.Errorf("root access keys = %+v; want key 1 active, 400 days old, used 5 days ago in us-east-1", r.AccessKeys)
	}
	if len(r.SigningCerts) != 1 || r.SigningCerts[0].Active || daysSince(r.SigningCerts[0].CreatedAt) != 90 {
		t.Errorf("root certificates = %+v; want certificate 1 inactive, 90 days old", r.SigningCerts)
	}
	if mfa, keys, certs := rootSummary(t, client); mfa != 0 || keys != 1 || certs != 1 {
		t.Errorf("summary flags %d %d %d; want 0 1 1 (no MFA, a key, a certificate)", mfa, keys, certs)
	}

	// Root's credentials removed: password_enabled false, last used N/A.
	m.SetRoot(t, "", Root{PasswordRemoved: true})
	rep, row = rootReport(t, client)
	if r := rep.Root; r.PasswordEnabled || !r.MFAActive || len(r.AccessKeys) != 0 || len(r.SigningCerts) != 0 {
		t.Errorf("parsed root = %+v; want no password, MFA, no key, no certificate", r)
	}
	if cols := strings.Split(row, ","); cols[3] != "false" || cols[4] != "N/A" {
		t.Errorf("root password_enabled, password_last_used = %s, %s; want false, N/A", cols[3], cols[4])
	}
	if mfa, keys, certs := rootSummary(t, client); mfa != 1 || keys != 0 || certs != 0 {
		t.Errorf("summary flags %d %d %d; want 1 0 0", mfa, keys, certs)
	}
}

// TestSetRootSummaryOnly: SummaryOnly changes the summary and leaves the
// report's root row as a report generated before the change shows it.
func TestSetRootSummaryOnly(t *testing.T) {
	m := Moto(t)
	client := iam.NewFromConfig(m.Config(t))
	m.SetRoot(t, "", Root{Key1: RootActive, SummaryOnly: true})
	rep, _ := rootReport(t, client)
	if len(rep.Root.AccessKeys) != 0 {
		t.Errorf("report root keys = %+v; want none (the change was the summary's only)", rep.Root.AccessKeys)
	}
	if _, keys, _ := rootSummary(t, client); keys != 1 {
		t.Errorf("AccountAccessKeysPresent = %d; want 1", keys)
	}
}

// TestSetRootOtherAccount: SetRoot names the account; the others keep the
// default root.
func TestSetRootOtherAccount(t *testing.T) {
	m := Moto(t)
	const other = "210987654321"
	m.SetRoot(t, other, Root{NoMFA: true})
	if mfa, _, _ := rootSummary(t, iam.NewFromConfig(m.Config(t))); mfa != 1 {
		t.Errorf("default account's AccountMFAEnabled = %d; want 1 (only %s lost MFA)", mfa, other)
	}
}

// TestSetRootRejects: the endpoint refuses unknown parameters and values
// and a removed password that was used.
func TestSetRootRejects(t *testing.T) {
	m := Moto(t)
	for _, q := range []string{"mfa=maybe", "key1=lost", "password_used=-1", "colour=red",
		"password=removed&password_used=3"} {
		if err := m.post("/_keywarden/iam/root?"+q, nil); err == nil || !strings.Contains(err.Error(), "400") {
			t.Errorf("POST root?%s: %v; want 400", q, err)
		}
	}
}
