package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/report"
)

// testFactory is a Factory over buffers; stdout is not a terminal unless tty.
func testFactory(tty bool) (*Factory, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	f := &Factory{
		In:            strings.NewReader(""),
		Out:           &out,
		ErrOut:        &errOut,
		IsTerminal:    func(io.Writer) bool { return tty },
		TerminalWidth: func(io.Writer) int { return 80 },
		Now:           func() time.Time { return time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC) },
		LoadAWSConfig: func(context.Context, awsapi.Options) (aws.Config, error) {
			return aws.Config{}, errors.New("no AWS in unit tests")
		},
		Getenv: func(string) string { return "" },
	}
	return f, &out, &errOut
}

// columnsFactory is testFactory with $COLUMNS set to columns ("": unset),
// the width tables on stdout fit.
func columnsFactory(tty bool, columns string) (*Factory, *bytes.Buffer, *bytes.Buffer) {
	f, out, errOut := testFactory(tty)
	f.Getenv = func(k string) string {
		if k == "COLUMNS" {
			return columns
		}
		return ""
	}
	return f, out, errOut
}

func TestScanFlagsParse(t *testing.T) {
	f, _, _ := testFactory(false)
	var got *ScanOptions
	cmd := NewCmdScan(f, func(_ context.Context, o *ScanOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--config", "k.yaml", "--format", "csv", "-o", "r.csv", "--as-of", "2026-12-01",
		"--credential-report", "cr.csv", "--account", "111111111111", "--account", "222222222222",
		"--fail-on", "high", "--region", "eu-west-1", "--profile", "audit"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := &ScanOptions{Source: Source{ConfigFile: "k.yaml", AsOf: "2026-12-01", CredentialReport: "cr.csv",
		Accounts: []string{"111111111111", "222222222222"}, Region: "eu-west-1", Profile: "audit"},
		Formats: []string{"csv"}, Outputs: []string{"r.csv"}, FailOn: "high"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parsed options = %+v; want %+v", got, want)
	}
}

// reportHeader is the header of IAM's credential report.
const reportHeader = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n"

// writeReport writes a small credential report: alice's key is 94 days old
// as of 2026-11-23 (delete stage, severity high); bob is compliant.
func writeReportFile(t *testing.T) string {
	t.Helper()
	rows := "alice,arn:aws:iam::123456789012:user/alice,2026-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,2026-08-20T10:00:00+00:00,2026-11-22T10:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n" +
		"bob,arn:aws:iam::123456789012:user/bob,2026-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,2026-11-01T10:00:00+00:00,2026-11-22T10:00:00+00:00,us-east-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
	p := filepath.Join(t.TempDir(), "report.csv")
	if err := os.WriteFile(p, []byte(reportHeader+rows), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMainExitCodes(t *testing.T) {
	reportFile := writeReportFile(t)
	dir := t.TempDir()
	badConfig := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badConfig, []byte("version: 1\nrules:\n  acess_key_age: {}\n"), 0o644)
	wrongType := filepath.Join(dir, "type.yaml")
	os.WriteFile(wrongType, []byte("version: 1\nrules:\n  access_key_unused:\n    after: soon\n"), 0o644)
	foreign := filepath.Join(dir, "foreign.csv")
	os.WriteFile(foreign, []byte("name,email,team\nalice,alice@example.com,ops\n"), 0o644)
	truncated := filepath.Join(dir, "truncated.csv")
	b, _ := os.ReadFile(reportFile)
	os.WriteFile(truncated, b[:len(b)-40], 0o644)

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"offline scan", []string{"scan", "--credential-report", reportFile, "--as-of", "2026-11-23"}, ExitOK, ""},
		{"fail-on reached", []string{"scan", "--credential-report", reportFile, "--as-of", "2026-11-23", "--fail-on", "high"}, ExitFindings, "findings at or above high"},
		{"fail-on not reached", []string{"scan", "--credential-report", reportFile, "--as-of", "2026-11-23", "--fail-on", "critical"}, ExitOK, ""},
		{"unknown flag", []string{"scan", "--nope"}, ExitUsage, "unknown flag: --nope"},
		{"unknown command", []string{"scna"}, ExitUsage, "unknown command"},
		{"bad fail-on", []string{"scan", "--credential-report", reportFile, "--fail-on", "severe"}, ExitUsage, `--fail-on "severe"`},
		{"bad as-of", []string{"scan", "--credential-report", reportFile, "--as-of", "yesterday"}, ExitUsage, `--as-of "yesterday"`},
		{"bad format", []string{"scan", "--credential-report", reportFile, "--format", "xml"}, ExitUsage, `--format "xml"`},
		{"bad account", []string{"scan", "--credential-report", reportFile, "--account", "12345"}, ExitUsage, `--account "12345"`},
		{"account not selected", []string{"scan", "--credential-report", reportFile, "--account", "999999999999"}, ExitError, "does not select"},
		{"unknown config key", []string{"scan", "--config", badConfig, "--credential-report", reportFile}, ExitUsage,
			badConfig + ":3: rules.acess_key_age: unknown key (did you mean access_key_age?)"},
		{"wrong config type", []string{"scan", "--config", wrongType, "--credential-report", reportFile}, ExitUsage,
			wrongType + `:4: rules.access_key_unused.after: want a whole number, got "soon"`},
		{"foreign CSV", []string{"scan", "--credential-report", foreign}, ExitError, foreign + ": credential report line 1, column user: missing from the header"},
		{"missing config", []string{"scan", "--config", filepath.Join(dir, "none.yaml")}, ExitUsage, "none.yaml"},
		{"truncated report", []string{"scan", "--credential-report", truncated}, ExitError, "line 3"},
		{"missing report", []string{"scan", "--credential-report", filepath.Join(dir, "none.csv")}, ExitError, "none.csv"},
		{"live scan without AWS", []string{"scan"}, ExitError, "no AWS in unit tests"},
		{"config check bad", []string{"config", "check", badConfig}, ExitUsage, badConfig + ":3: rules.acess_key_age: unknown key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, errOut := testFactory(false)
			code := Main(context.Background(), f, tt.args)
			if code != tt.wantCode {
				t.Errorf("Main(%q) = %d; want %d (stderr: %s)", tt.args, code, tt.wantCode, errOut)
			}
			if !strings.Contains(errOut.String(), tt.wantStderr) {
				t.Errorf("Main(%q) stderr = %q; want it to contain %q", tt.args, errOut, tt.wantStderr)
			}
		})
	}
}

func TestScanOfflineJSON(t *testing.T) {
	f, out, errOut := testFactory(false)
	code := Main(context.Background(), f, []string{"scan", "--credential-report", writeReportFile(t), "--as-of", "2026-11-23"})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rep report.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not JSON (not a terminal, so JSON is the default): %v\n%s", err, out)
	}
	if rep.Schema != report.Schema {
		t.Errorf("schema = %q; want %q", rep.Schema, report.Schema)
	}
	if len(rep.Accounts) != 1 || rep.Accounts[0].ID != "123456789012" || rep.Accounts[0].APICalls != 0 {
		t.Errorf("accounts = %+v; want one account 123456789012 with 0 API calls", rep.Accounts)
	}
	if len(rep.Findings) != 1 {
		t.Fatalf("findings = %+v; want exactly alice's key", rep.Findings)
	}
	got := rep.Findings[0]
	if got.User != "alice" || got.Rule != "access_key_age" || got.AgeDays != 94 || got.Action != "delete" || got.Slot != 1 {
		t.Errorf("finding = %+v; want alice key 1, access_key_age, 94 days, delete", got)
	}
}

// TestScanOfflineUnknownKeyAge: an active key whose creation date is
// missing (a user named no_information, which is a name, not a marker) or
// in the future is reported as access_key_unknown_age, high, notify only,
// and counts for --fail-on; it used to be silent.
func TestScanOfflineUnknownKeyAge(t *testing.T) {
	rows := "no_information,arn:aws:iam::123456789012:user/no_information,2026-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n" +
		"eve,arn:aws:iam::123456789012:user/eve,2026-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,2099-01-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
	file := filepath.Join(t.TempDir(), "report.csv")
	if err := os.WriteFile(file, []byte(reportHeader+rows), 0o644); err != nil {
		t.Fatal(err)
	}
	f, out, errOut := testFactory(false)
	code := Main(context.Background(), f, []string{"scan", "--credential-report", file, "--as-of", "2026-11-23", "--fail-on", "high"})
	if code != ExitFindings {
		t.Errorf("exit %d; want %d (findings at or above high): %s", code, ExitFindings, errOut)
	}
	var rep report.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	var got []string
	for _, f := range rep.Findings {
		got = append(got, fmt.Sprintf("%s slot %d %s %s %s", f.User, f.Slot, f.Rule, f.Action, f.Severity))
	}
	want := []string{
		"eve slot 1 access_key_unknown_age notify high",
		"no_information slot 1 access_key_unknown_age notify high",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

func TestScanFormatDefaults(t *testing.T) {
	tests := []struct {
		tty          bool
		format, file string
		want         string
	}{
		{true, "", "", "table"},
		{false, "", "", "json"},
		{false, "", "r.csv", "csv"},
		{false, "", "r.md", "markdown"},
		{true, "", "r.json", "json"},
		{false, "CSV", "", "csv"},
	}
	for _, tt := range tests {
		f, _, _ := testFactory(tt.tty)
		got, err := resolveFormat(f, tt.format, tt.file)
		if err != nil || got != tt.want {
			t.Errorf("resolveFormat(tty=%v, %q, %q) = %q, %v; want %q", tt.tty, tt.format, tt.file, got, err, tt.want)
		}
	}
}

func TestScanOutputFile(t *testing.T) {
	f, out, errOut := testFactory(false)
	path := filepath.Join(t.TempDir(), "report.csv")
	if code := Main(context.Background(), f, []string{"scan", "--credential-report", writeReportFile(t), "--as-of", "2026-11-23", "-o", path}); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out.Len() != 0 {
		t.Errorf("stdout = %q; want nothing when --output is set", out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(b), "\n"); lines != 2 || !strings.HasPrefix(string(b), "id,account,") {
		t.Errorf("%s = %q; want a CSV header and one row", path, b)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("output dir holds %d entries; want only the report (no temp files left)", len(entries))
	}
}

func TestConfigInitRefusesOverwrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keywarden.yaml")
	f, _, _ := testFactory(false)
	if code := Main(context.Background(), f, []string{"config", "init", "-o", path}); code != 0 {
		t.Fatalf("first init exit %d", code)
	}
	f, _, errOut := testFactory(false)
	if code := Main(context.Background(), f, []string{"config", "init", "-o", path}); code != ExitUsage || !strings.Contains(errOut.String(), "already exists; use --force") {
		t.Errorf("second init = %d, %q; want exit 2 and the --force hint", code, errOut)
	}
	f, out, _ := testFactory(false)
	if code := Main(context.Background(), f, []string{"config", "check", path}); code != 0 || out.String() != path+": ok\n" {
		t.Errorf("config check of the init file = %d, %q; want 0 and ok", code, out)
	}
}

func TestHelpListsExitCodes(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"scan", "--help"}, {"run", "--help"}} {
		f, out, _ := testFactory(false)
		if code := Main(context.Background(), f, args); code != 0 {
			t.Fatalf("%v exit %d", args, code)
		}
		for _, want := range []string{"Exit codes:", "2  usage error or invalid config file", "3  findings at or above --fail-on",
			"4  some accounts failed", "5  a guard"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%v lacks %q", args, want)
			}
		}
	}
}

// TestQuietShowsDataAndErrorsOnly: with --quiet, stderr has no log lines
// (the INFO a scan ends with is gone) but still the error; without it, the
// INFO lines are there.
func TestQuietShowsDataAndErrorsOnly(t *testing.T) {
	args := []string{"scan", "--credential-report", "../../examples/credential-report.csv", "--as-of", "2026-11-23", "--format", "table", "--fail-on", "high"}
	f, out, errOut := testFactory(false)
	if code := Main(context.Background(), f, append(args, "--quiet")); code != ExitFindings {
		t.Fatalf("exit %d; want %d: %s", code, ExitFindings, errOut)
	}
	if !strings.Contains(out.String(), "20 findings") {
		t.Errorf("--quiet lost the table:\n%s", out)
	}
	if got, want := errOut.String(), "keywarden: findings at or above high severity\n"; got != want {
		t.Errorf("--quiet stderr = %q; want only the error %q", got, want)
	}
	f, _, errOut = testFactory(false)
	Main(context.Background(), f, args)
	if !strings.Contains(errOut.String(), `level=INFO msg="scan finished"`) {
		t.Errorf("without --quiet stderr lacks the INFO line:\n%s", errOut)
	}
}
