package inventory

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// at parses an RFC 3339 time for expectations.
func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func parseFile(t testing.TB, name string) (*CredentialReport, error) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return ParseCredentialReport(f)
}

const acct = "123456789012"

func arn(name string) string { return "arn:aws:iam::" + acct + ":user/" + name }

// booleanCase is what booleans-{lower,upper,mixed}.csv all hold.
var booleanCase = &CredentialReport{
	AccountID: acct,
	Users: []User{
		{
			Name: "alice", ARN: arn("alice"), Path: "/", CreatedAt: at("2025-02-01T10:00:00Z"),
			PasswordEnabled: true, PasswordLastUsed: at("2026-11-18T08:00:00Z"), PasswordLastChanged: at("2026-10-01T10:00:00Z"),
			MFAActive: true,
			AccessKeys: []AccessKey{
				{Slot: 1, Active: true, CreatedAt: at("2026-09-01T10:00:00Z"), LastUsedAt: at("2026-11-19T12:00:00Z"), LastUsedRegion: "eu-west-1", LastUsedService: "sts"},
				{Slot: 2, Active: false, CreatedAt: at("2026-01-05T10:00:00Z"), LastUsedAt: at("2026-02-01T10:00:00Z"), LastUsedRegion: "eu-west-1", LastUsedService: "s3"},
			},
		},
		{
			Name: "bob", ARN: arn("bob"), Path: "/", CreatedAt: at("2025-03-01T10:00:00Z"),
			AccessKeys: []AccessKey{{Slot: 2, Active: true, CreatedAt: at("2026-10-01T10:00:00Z")}},
		},
	},
}

func TestParseCredentialReport(t *testing.T) {
	tests := []struct {
		file string
		want *CredentialReport
	}{
		{
			// AWS's documented example (AWS Tools for PowerShell,
			// Get-IAMCredentialReport -AsTextArray) in today's 22-column
			// layout; its own 16-column form is TestParseCredentialReportErrors'.
			file: "aws-docs-example-22col.csv",
			want: &CredentialReport{
				AccountID: acct,
				Root: &User{
					Name: RootUserName, ARN: "arn:aws:iam::123456789012:root", Path: "/", CreatedAt: at("2014-10-15T16:31:25Z"),
					PasswordEnabled: true, PasswordLastUsed: at("2015-04-20T17:41:10Z"), MFAActive: true,
				},
				Users: []User{
					{
						Name: "Administrator", ARN: arn("Administrator"), Path: "/", CreatedAt: at("2014-10-16T16:03:09Z"),
						PasswordEnabled: true, PasswordLastUsed: at("2015-04-20T15:18:32Z"), PasswordLastChanged: at("2014-10-16T16:06:00Z"),
						AccessKeys: []AccessKey{
							{Slot: 1, Active: true, CreatedAt: at("2014-12-03T18:53:41Z")},
							{Slot: 2, Active: true, CreatedAt: at("2015-03-25T20:38:14Z")},
						},
					},
					{Name: "Bill", ARN: arn("Bill"), Path: "/", CreatedAt: at("2015-04-15T18:27:44Z"),
						SigningCerts: []SigningCert{{Slot: 1, CreatedAt: at("2015-04-20T20:00:12Z")}}},
				},
			},
		},
		{
			file: "root.csv",
			want: &CredentialReport{
				AccountID: acct,
				Root: &User{
					Name: RootUserName, ARN: "arn:aws:iam::123456789012:root", Path: "/", CreatedAt: at("2019-03-04T10:00:00Z"),
					// password_enabled is not_supported for root: it always has one.
					PasswordEnabled: true, PasswordLastUsed: at("2026-11-02T08:15:00Z"), MFAActive: true,
					AccessKeys: []AccessKey{{Slot: 1, Active: true, CreatedAt: at("2021-06-01T12:00:00Z"),
						LastUsedAt: at("2026-10-30T09:00:00Z"), LastUsedRegion: "us-east-1", LastUsedService: "s3"}},
				},
				Users: []User{{
					Name: "zoe", ARN: arn("zoe"), Path: "/", CreatedAt: at("2024-01-10T09:00:00Z"),
					PasswordEnabled: true, PasswordLastUsed: at("2026-11-19T16:20:00Z"), PasswordLastChanged: at("2026-09-01T09:00:00Z"),
					MFAActive: true,
				}},
			},
		},
		{file: "booleans-lower.csv", want: booleanCase},
		{file: "booleans-upper.csv", want: booleanCase},
		{file: "booleans-mixed.csv", want: booleanCase},
		{
			// Upper-case, padded, reordered headers; an unknown column with a
			// quoted comma; CRLF line ends.
			file: "reordered-headers.csv",
			want: &CredentialReport{
				AccountID: acct,
				Users: []User{
					{Name: "adam", ARN: arn("adam"), Path: "/", CreatedAt: at("2024-04-04T04:04:04Z"),
						SigningCerts: []SigningCert{{Slot: 1, CreatedAt: at("2025-01-01T00:00:00Z")}}},
					{
						Name: "carol", ARN: arn("carol"), Path: "/", CreatedAt: at("2023-05-05T05:05:05Z"),
						PasswordEnabled: true, PasswordLastUsed: at("2026-11-20T07:45:00Z"), PasswordLastChanged: at("2026-08-01T07:00:00Z"),
						PasswordNextRotation: at("2026-10-30T07:00:00Z"), MFAActive: true,
						AccessKeys: []AccessKey{
							{Slot: 1, Active: true, CreatedAt: at("2026-07-01T07:00:00Z"), LastUsedAt: at("2026-11-19T22:10:00Z"), LastUsedRegion: "us-west-2", LastUsedService: "ec2"},
							{Slot: 2, Active: true, CreatedAt: at("2026-10-10T07:30:00Z"), LastUsedAt: at("2026-11-20T01:00:00Z"), LastUsedRegion: "us-west-2", LastUsedService: "sqs"},
						},
						SigningCerts: []SigningCert{{Slot: 2, Active: true, CreatedAt: at("2026-05-05T05:05:05Z")}},
					},
				},
			},
		},
		{
			// Byte order mark, every field quoted, CRLF.
			file: "spreadsheet-saved.csv",
			want: &CredentialReport{
				AccountID: acct,
				Users: []User{{Name: "dave", ARN: arn("dave"), Path: "/", CreatedAt: at("2025-06-06T06:06:06Z"),
					AccessKeys: []AccessKey{{Slot: 1, Active: true, CreatedAt: at("2026-09-09T09:09:09Z")}}}},
			},
		},
		{
			// moto fills password_last_changed for users without a password:
			// dropped. Unsorted rows come back sorted.
			file: "moto.csv",
			want: &CredentialReport{
				AccountID: acct,
				Users: []User{
					{Name: "erin", ARN: arn("erin"), Path: "/", CreatedAt: at("2026-11-20T09:00:02Z"),
						PasswordEnabled: true, PasswordLastChanged: at("2026-11-20T09:00:02Z")},
					{Name: "svc-build", ARN: arn("svc-build"), Path: "/", CreatedAt: at("2026-11-20T09:00:00Z"),
						AccessKeys: []AccessKey{{Slot: 1, Active: true, CreatedAt: at("2026-11-20T09:00:01Z")}}},
				},
			},
		},
		{
			// password_enabled=false with every password date filled: all dropped.
			file: "password-disabled.csv",
			want: &CredentialReport{
				AccountID: acct,
				Users:     []User{{Name: "frank", ARN: arn("frank"), Path: "/", CreatedAt: at("2022-02-02T12:00:00Z")}},
			},
		},
		{
			file: "two-keys.csv",
			want: &CredentialReport{
				AccountID: acct,
				Users: []User{
					{Name: "gina", ARN: arn("gina"), Path: "/", CreatedAt: at("2023-01-01T00:00:00Z"),
						AccessKeys: []AccessKey{
							{Slot: 1, Active: true, CreatedAt: at("2026-06-01T10:00:00Z"), LastUsedAt: at("2026-11-19T10:00:00Z"), LastUsedRegion: "us-east-1", LastUsedService: "s3"},
							{Slot: 2, Active: true, CreatedAt: at("2026-10-15T10:00:00Z"), LastUsedAt: at("2026-11-20T03:00:00Z"), LastUsedRegion: "eu-central-1", LastUsedService: "dynamodb"},
						}},
					{Name: "hank", ARN: arn("hank"), Path: "/", CreatedAt: at("2023-01-01T00:00:00Z"),
						AccessKeys: []AccessKey{
							{Slot: 1, Active: false, CreatedAt: at("2025-08-01T10:00:00Z"), LastUsedAt: at("2025-09-01T10:00:00Z"), LastUsedRegion: "us-east-1", LastUsedService: "iam"},
							{Slot: 2, Active: true, CreatedAt: at("2026-09-20T10:00:00Z")},
						}},
					{Name: "ivan", ARN: arn("ivan"), Path: "/", CreatedAt: at("2023-01-01T00:00:00Z"),
						AccessKeys: []AccessKey{
							{Slot: 2, Active: true, CreatedAt: at("2026-11-01T10:00:00Z"), LastUsedAt: at("2026-11-02T10:00:00Z"), LastUsedRegion: "ap-south-1", LastUsedService: "lambda"},
						}},
				},
			},
		},
		{
			// N/A, no_information and empty fields everywhere.
			file: "all-na.csv",
			want: &CredentialReport{
				AccountID: acct,
				Users: []User{
					{Name: "jack", ARN: arn("jack"), Path: "/", CreatedAt: at("2024-07-07T07:07:07Z")},
					{Name: "kate", ARN: arn("kate"), Path: "/", CreatedAt: at("2014-01-01T00:00:00Z"), PasswordEnabled: true},
					{Name: "liam", ARN: arn("liam"), Path: "/", CreatedAt: at("2024-07-07T07:07:07Z")},
				},
			},
		},
		{
			file: "user-paths.csv",
			want: &CredentialReport{
				AccountID: acct,
				Users: []User{
					{Name: "mia", ARN: arn("division/mia"), Path: "/division/", CreatedAt: at("2024-01-01T00:00:00Z")},
					{Name: "ned", ARN: "arn:aws-us-gov:iam::123456789012:user/eng/platform/ned", Path: "/eng/platform/", CreatedAt: at("2024-01-01T00:00:00Z")},
					{Name: "olga", ARN: arn("olga"), Path: "/", CreatedAt: at("2024-01-01T00:00:00Z")},
				},
			},
		},
		{
			file: "timezones.csv",
			want: &CredentialReport{
				AccountID: acct,
				Users: []User{{
					Name: "pat", ARN: arn("pat"), Path: "/", CreatedAt: at("2024-01-01T00:00:00Z"),
					PasswordEnabled: true, PasswordLastUsed: at("2026-11-20T04:30:00Z"), PasswordLastChanged: at("2026-09-30T22:00:00Z"),
					PasswordNextRotation: at("2026-12-29T22:00:00.123Z"), MFAActive: true,
					AccessKeys: []AccessKey{{Slot: 1, Active: true, CreatedAt: at("2026-08-15T19:04:50Z"),
						LastUsedAt: at("2026-11-19T19:32:03Z"), LastUsedRegion: "ap-south-1", LastUsedService: "s3"}},
				}},
			},
		},
		{
			// Names that read like the report's "no value" markers are
			// legal IAM user names: they are names, not missing values.
			file: "marker-names.csv",
			want: &CredentialReport{
				AccountID: acct,
				Users: []User{
					{Name: "NO_INFORMATION", ARN: arn("ops/NO_INFORMATION"), Path: "/ops/", CreatedAt: at("2024-01-01T00:00:00Z")},
					{Name: "no_information", ARN: arn("no_information"), Path: "/", CreatedAt: at("2024-01-01T00:00:00Z"),
						AccessKeys: []AccessKey{{Slot: 1, Active: true, CreatedAt: at("2026-06-01T10:00:00Z")}}},
					{Name: "not_supported", ARN: arn("not_supported"), Path: "/", CreatedAt: at("2024-01-01T00:00:00Z")},
				},
			},
		},
		{
			// Signing certificate slots: a slot neither active nor dated
			// holds nothing (as for access keys); an active one without a
			// date (as moto writes it) holds a certificate of unknown age.
			file: "signing-certs.csv",
			want: &CredentialReport{
				AccountID: acct,
				Root: &User{
					Name: RootUserName, ARN: "arn:aws:iam::123456789012:root", Path: "/", CreatedAt: at("2019-03-04T10:00:00Z"),
					PasswordEnabled: true, PasswordLastUsed: at("2026-11-02T08:15:00Z"), MFAActive: true,
					SigningCerts: []SigningCert{{Slot: 1, Active: true, CreatedAt: at("2020-02-02T02:02:02Z")}},
				},
				Users: []User{
					{Name: "both", ARN: arn("both"), Path: "/", CreatedAt: at("2024-01-01T00:00:00Z"),
						SigningCerts: []SigningCert{
							{Slot: 1, Active: true, CreatedAt: at("2025-03-01T10:00:00Z")},
							{Slot: 2, CreatedAt: at("2024-06-01T10:00:00Z")},
						}},
					{Name: "none", ARN: arn("none"), Path: "/", CreatedAt: at("2024-01-01T00:00:00Z")},
					{Name: "second", ARN: arn("second"), Path: "/", CreatedAt: at("2024-01-01T00:00:00Z"),
						SigningCerts: []SigningCert{{Slot: 2, Active: true, CreatedAt: at("2026-01-01T00:00:00Z")}}},
					{Name: "undated", ARN: arn("undated"), Path: "/", CreatedAt: at("2024-01-01T00:00:00Z"),
						SigningCerts: []SigningCert{{Slot: 1, Active: true}}},
				},
			},
		},
		{
			// Root's password removed (Organizations' centralized root
			// access): an explicit false is honoured, and the password
			// dates, which describe no password now, are dropped.
			file: "root-password-removed.csv",
			want: &CredentialReport{
				AccountID: acct,
				Root: &User{
					Name: RootUserName, ARN: "arn:aws:iam::123456789012:root", Path: "/", CreatedAt: at("2019-03-04T10:00:00Z"),
				},
			},
		},
		{file: "header-only.csv", want: &CredentialReport{}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := parseFile(t, tt.file)
			if err != nil {
				t.Fatalf("ParseCredentialReport(%s) error: %v", tt.file, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseCredentialReport(%s) mismatch (-want +got):\n%s", tt.file, diff)
			}
			// cmp compares times with Equal, which ignores the location.
			if loc := nonUTC(got); loc != "" {
				t.Errorf("ParseCredentialReport(%s): %s is not in UTC", tt.file, loc)
			}
		})
	}
}

// nonUTC names the first time in r that is not in UTC, or returns "".
func nonUTC(r *CredentialReport) string {
	users := r.Users
	if r.Root != nil {
		users = append([]User{*r.Root}, users...)
	}
	for _, u := range users {
		times := map[string]time.Time{
			"CreatedAt": u.CreatedAt, "PasswordLastUsed": u.PasswordLastUsed,
			"PasswordLastChanged": u.PasswordLastChanged, "PasswordNextRotation": u.PasswordNextRotation,
		}
		for _, k := range u.AccessKeys {
			times[fmt.Sprintf("AccessKeys[%d].CreatedAt", k.Slot)] = k.CreatedAt
			times[fmt.Sprintf("AccessKeys[%d].LastUsedAt", k.Slot)] = k.LastUsedAt
		}
		for _, c := range u.SigningCerts {
			times[fmt.Sprintf("SigningCerts[%d].CreatedAt", c.Slot)] = c.CreatedAt
		}
		for name, t := range times {
			if t.Location() != time.UTC {
				return u.Name + "." + name
			}
		}
	}
	return ""
}

func TestParseCredentialReportErrors(t *testing.T) {
	tests := []struct {
		file       string
		wantLine   int
		wantColumn string
		wantMsg    string // a part of the error message
	}{
		{
			// AWS's documented example, verbatim but for two slips of the
			// page's rendering (header and root row run together, "<root_account>"
			// eaten as an HTML tag). It predates the access_key_N_last_used_*
			// columns; without them keywarden cannot tell an unused key.
			file: "aws-docs-example.csv", wantLine: 1, wantColumn: "access_key_1_last_used_date",
			wantMsg: "missing from the header (also missing: access_key_1_last_used_region, access_key_1_last_used_service, access_key_2_last_used_date",
		},
		{
			file: "missing-column.csv", wantLine: 1, wantColumn: "access_key_2_last_used_region",
			wantMsg: "credential report line 1, column access_key_2_last_used_region: missing from the header: this does not look like an IAM credential report",
		},
		{
			// Every column of IAM's report is required, the certificates'
			// too: a trimmed report must not hide a credential.
			file: "missing-cert-column.csv", wantLine: 1, wantColumn: "cert_2_active",
			wantMsg: "credential report line 1, column cert_2_active: missing from the header: this does not look like an IAM credential report",
		},
		{
			file: "bad-cert-timestamp.csv", wantLine: 2, wantColumn: "cert_2_last_rotated",
			wantMsg: `credential report line 2, column cert_2_last_rotated: "2026-13-01T00:00:00+00:00" is not a timestamp`,
		},
		{
			file: "foreign.csv", wantLine: 1, wantColumn: "user",
			wantMsg: "missing from the header, as are all the other credential report columns: this does not look like an IAM credential report",
		},
		{
			file: "truncated.csv", wantLine: 4,
			wantMsg: "credential report line 4: wrong number of fields: the row has 10, the header 22 (truncated or hand-edited file?)",
		},
		{
			file: "bad-boolean.csv", wantLine: 3, wantColumn: "mfa_active",
			wantMsg: `credential report line 3, column mfa_active: "yes" is not a boolean (want true or false)`,
		},
		{
			file: "bad-timestamp.csv", wantLine: 2, wantColumn: "access_key_1_last_rotated",
			wantMsg: `credential report line 2, column access_key_1_last_rotated: "2026-08-15 19:04:50" is not a timestamp`,
		},
		{
			file: "duplicate-column.csv", wantLine: 1, wantColumn: "user",
			wantMsg: "column user: appears twice in the header (fields 1 and 23)",
		},
		{
			file: "duplicate-user.csv", wantLine: 4, wantColumn: "user",
			wantMsg: `user "jack" appears twice with different values (first on line 2)`,
		},
		{
			file: "illegal-name.csv", wantLine: 2, wantColumn: "user",
			wantMsg: `credential report line 2, column user: "bob smith" is not an IAM user name (1 to 128 of A-Z a-z 0-9 and _+=,.@-)`,
		},
		{
			file: "two-accounts.csv", wantLine: 3, wantColumn: "arn",
			wantMsg: "arn is in account 210987654321 but line 2's is in account 123456789012",
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := parseFile(t, tt.file)
			if err == nil {
				t.Fatalf("ParseCredentialReport(%s) = %+v; want an error", tt.file, got)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseCredentialReport(%s) error = %v (%T); want a *ParseError", tt.file, err, err)
			}
			if pe.Line != tt.wantLine || pe.Column != tt.wantColumn {
				t.Errorf("ParseCredentialReport(%s) error at line %d, column %q; want line %d, column %q",
					tt.file, pe.Line, pe.Column, tt.wantLine, tt.wantColumn)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("ParseCredentialReport(%s) error = %q; want it to contain %q", tt.file, err, tt.wantMsg)
			}
		})
	}
}

// TestParseCredentialReportDuplicateRow: a row repeated identically is
// tolerated, with a warning naming both lines; the user is kept once.
func TestParseCredentialReportDuplicateRow(t *testing.T) {
	got, err := parseFile(t, "duplicate-identical.csv")
	if err != nil {
		t.Fatalf("ParseCredentialReport(duplicate-identical.csv) error: %v", err)
	}
	var names []string
	for _, u := range got.Users {
		names = append(names, u.Name)
	}
	if diff := cmp.Diff([]string{"jack", "olga"}, names); diff != "" {
		t.Errorf("ParseCredentialReport(duplicate-identical.csv) users (-want +got):\n%s", diff)
	}
	want := []string{`credential report line 4, column user: user "jack" appears twice, identically (first on line 2); the copy is ignored`}
	var warnings []string
	for _, w := range got.Warnings {
		warnings = append(warnings, w.Error())
	}
	if diff := cmp.Diff(want, warnings); diff != "" {
		t.Errorf("ParseCredentialReport(duplicate-identical.csv) warnings (-want +got):\n%s", diff)
	}
}

// TestParseCredentialReportNameLength: IAM user names are 1 to 64
// characters today; older users may have up to 128 (IAM's
// existingUserNameType), so 128 parses and 129 does not.
func TestParseCredentialReportNameLength(t *testing.T) {
	row := func(name string) string {
		return header + "\n" + name + ",arn:aws:iam::123456789012:user/" + name +
			",2024-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
	}
	long := strings.Repeat("a", 127) + "@"
	rep, err := ParseCredentialReport(strings.NewReader(row(long)))
	if err != nil || len(rep.Users) != 1 || rep.Users[0].Name != long {
		t.Errorf("ParseCredentialReport(128-character name) = %+v, %v; want the user", rep, err)
	}
	_, err = ParseCredentialReport(strings.NewReader(row(long + "b")))
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 2 || pe.Column != colUser || !strings.Contains(err.Error(), "is not an IAM user name") {
		t.Errorf("ParseCredentialReport(129-character name) error = %v; want a *ParseError at line 2, column user: not an IAM user name", err)
	}
}

// TestParseCredentialReportRootPassword: root's password_enabled is
// honoured when explicit — false once root's password was removed (as
// Organizations' centralized root access does), true — and read as true
// for the "no value" markers, since AWS writes not_supported there for a
// root user with a password. Anything else is an error, as for any user.
func TestParseCredentialReportRootPassword(t *testing.T) {
	row := func(v string) string {
		return header + "\n<root_account>,arn:aws:iam::123456789012:root,2019-03-04T10:00:00+00:00," + v +
			",2026-11-02T08:15:00+00:00,N/A,N/A,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
	}
	used := at("2026-11-02T08:15:00Z")
	for _, tt := range []struct {
		value    string
		enabled  bool
		lastUsed time.Time
	}{
		{"not_supported", true, used},
		{"N/A", true, used},
		{"no_information", true, used},
		{"", true, used},
		{"true", true, used},
		{"TRUE", true, used},
		{"false", false, time.Time{}},
		{"False", false, time.Time{}},
	} {
		rep, err := ParseCredentialReport(strings.NewReader(row(tt.value)))
		if err != nil || rep.Root == nil {
			t.Errorf("ParseCredentialReport(root password_enabled %q) = %+v, %v; want root", tt.value, rep, err)
			continue
		}
		if rep.Root.PasswordEnabled != tt.enabled || !rep.Root.PasswordLastUsed.Equal(tt.lastUsed) {
			t.Errorf("root password_enabled %q: PasswordEnabled %v, PasswordLastUsed %v; want %v, %v",
				tt.value, rep.Root.PasswordEnabled, rep.Root.PasswordLastUsed, tt.enabled, tt.lastUsed)
		}
	}
	_, err := ParseCredentialReport(strings.NewReader(row("yes")))
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 2 || pe.Column != colPasswordEnabled || !strings.Contains(err.Error(), `"yes" is not a boolean`) {
		t.Errorf("ParseCredentialReport(root password_enabled \"yes\") error = %v; want a *ParseError at line 2, column password_enabled", err)
	}
}

func TestParseCredentialReportHeaderAfterBlankLines(t *testing.T) {
	in := "\n\nuser,arn\n"
	_, err := ParseCredentialReport(strings.NewReader(in))
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 3 || pe.Column != "user_creation_time" {
		t.Errorf("ParseCredentialReport(%q) error = %v; want a *ParseError at line 3, column user_creation_time", in, err)
	}
}

func TestParseCredentialReportEmpty(t *testing.T) {
	for _, in := range []string{"", "\n\n"} {
		_, err := ParseCredentialReport(strings.NewReader(in))
		if err == nil || err.Error() != "empty credential report" {
			t.Errorf("ParseCredentialReport(%q) error = %v; want \"empty credential report\"", in, err)
		}
	}
	if _, err := parseFile(t, "empty.csv"); err == nil || err.Error() != "empty credential report" {
		t.Errorf("ParseCredentialReport(empty.csv) error = %v; want \"empty credential report\"", err)
	}
}

// zeros is an endless reader of NUL bytes, as /dev/zero.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestParseCredentialReportBounded: an endless input (as /dev/zero, which
// was read until memory ran out) is refused once MaxReportSize bytes have
// been read; the bound lets exactly max bytes through.
func TestParseCredentialReportBounded(t *testing.T) {
	if _, err := ParseCredentialReport(zeros{}); !errors.Is(err, ErrReportTooBig) {
		t.Errorf("ParseCredentialReport(endless zeros) error = %v; want %v", err, ErrReportTooBig)
	}
	want := "the credential report is larger than 32 MiB, the most keywarden reads; " +
		"IAM's report of an account with 5,000 users is a few MiB (a wrong file, or an endless one such as /dev/zero?)"
	if ErrReportTooBig.Error() != want {
		t.Errorf("ErrReportTooBig = %q; want %q", ErrReportTooBig, want)
	}
	for _, tt := range []struct {
		in   string
		want error
	}{
		{"0123456789", nil},
		{"01234567890", ErrReportTooBig},
	} {
		b, err := io.ReadAll(newBoundedReader(strings.NewReader(tt.in), 10))
		if err != tt.want || tt.want == nil && string(b) != tt.in {
			t.Errorf("read %d bytes bounded to 10: %q, %v; want %v", len(tt.in), b, err, tt.want)
		}
	}
}

func TestParseCredentialReportMalformedCSV(t *testing.T) {
	in := header + "\n" + `jack,arn:aws:iam::123456789012:user/jack,2024-07-07T07:07:07+00:00,fal"se,N/A,N/A,N/A,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A` + "\n"
	_, err := ParseCredentialReport(strings.NewReader(in))
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 2 || !strings.Contains(err.Error(), "bare \"") {
		t.Errorf("ParseCredentialReport(bare quote on line 2) error = %v; want a *ParseError on line 2 about the bare quote", err)
	}
}

func TestParseErrorError(t *testing.T) {
	tests := []struct {
		err  *ParseError
		want string
	}{
		{&ParseError{Line: 7, Column: "access_key_1_last_rotated", Err: errors.New("bad")}, "credential report line 7, column access_key_1_last_rotated: bad"},
		{&ParseError{Line: 4, Err: errors.New("short row")}, "credential report line 4: short row"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("(%#v).Error() = %q; want %q", tt.err, got, tt.want)
		}
	}
	inner := errors.New("inner")
	if err := error(&ParseError{Line: 1, Err: inner}); !errors.Is(err, inner) {
		t.Errorf("errors.Is(ParseError{Err: inner}, inner) = false; want true")
	}
}

// TestExampleReport keeps examples/credential-report.csv parsing and doing
// what examples/README.md says each user is there for, as of 2026-11-23.
func TestExampleReport(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "examples", "credential-report.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := ParseCredentialReport(f)
	if err != nil {
		t.Fatalf("ParseCredentialReport(examples/credential-report.csv) error: %v", err)
	}
	if rep.AccountID != acct || rep.Root == nil || len(rep.Users) != 15 {
		t.Fatalf("example report: account %q, root %v, %d users; want %s, a root row, 15 users",
			rep.AccountID, rep.Root != nil, len(rep.Users), acct)
	}
	asOf := at("2026-11-23T00:00:00Z")
	days := func(t time.Time) int {
		if t.IsZero() {
			return -1
		}
		return int(asOf.Sub(t) / (24 * time.Hour))
	}
	// What each user is there for, as whole days before asOf (-1: none).
	type keyAges struct{ age, unused int } // unused: since last use, or creation when never used
	type facts struct {
		keys             []keyAges
		active           []bool
		pwChanged, pwUse int
		mfa              bool
	}
	want := map[string]facts{
		RootUserName:        {keys: []keyAges{{1998, 24}}, active: []bool{true}, pwChanged: -1, pwUse: 21, mfa: true},
		"alice@example.com": {keys: []keyAges{{50, 3}}, active: []bool{true}, pwChanged: 34, pwUse: 3, mfa: true},
		"bob@example.com":   {keys: []keyAges{{75, 3}}, active: []bool{true}, pwChanged: -1, pwUse: -1},
		"carol@example.com": {keys: []keyAges{{85, 4}}, active: []bool{true}, pwChanged: 41, pwUse: 5, mfa: true},
		"ci-legacy":         {keys: []keyAges{{203, 3}}, active: []bool{true}, pwChanged: -1, pwUse: -1},
		"dana@example.com":  {keys: []keyAges{{95, 8}}, active: []bool{true}, pwChanged: 22, pwUse: 6},
		"erik@example.com":  {keys: []keyAges{{141, 119}, {19, 3}}, active: []bool{false, true}, pwChanged: -1, pwUse: -1},
		"farah@example.com": {keys: []keyAges{{61, 61}}, active: []bool{true}, pwChanged: -1, pwUse: -1},
		"gus@example.com":   {keys: []keyAges{{66, 60}}, active: []bool{true}, pwChanged: -1, pwUse: -1},
		"hana@example.com":  {pwChanged: 19, pwUse: 4},
		"ivan@example.com":  {pwChanged: 206, pwUse: 131, mfa: true},
		"jo@example.com":    {pwChanged: 80, pwUse: 5, mfa: true},
		"kim@example.com":   {pwChanged: 100, pwUse: 7, mfa: true},
		"lee@example.com":   {keys: []keyAges{{10, 3}}, active: []bool{true}, pwChanged: 12, pwUse: 3, mfa: true},
		"nora@example.com":  {pwChanged: -1, pwUse: -1},
		"svc-deploy":        {keys: []keyAges{{87, 3}}, active: []bool{true}, pwChanged: -1, pwUse: -1},
	}
	users := append([]User{*rep.Root}, rep.Users...)
	for _, u := range users {
		w, ok := want[u.Name]
		if !ok {
			t.Errorf("example report: unexpected user %q", u.Name)
			continue
		}
		got := facts{pwChanged: days(u.PasswordLastChanged), pwUse: days(u.PasswordLastUsed), mfa: u.MFAActive}
		for _, k := range u.AccessKeys {
			last := k.LastUsedAt
			if last.IsZero() {
				last = k.CreatedAt
			}
			got.keys = append(got.keys, keyAges{days(k.CreatedAt), days(last)})
			got.active = append(got.active, k.Active)
		}
		if diff := cmp.Diff(w, got, cmp.AllowUnexported(facts{}, keyAges{})); diff != "" {
			t.Errorf("example report user %s (-want +got):\n%s", u.Name, diff)
		}
		for _, k := range u.AccessKeys {
			if !k.LastUsedAt.IsZero() && k.LastUsedAt.Before(k.CreatedAt) || k.CreatedAt.Before(u.CreatedAt) {
				t.Errorf("example report user %s key %d: used %v, created %v, user created %v: out of order",
					u.Name, k.Slot, k.LastUsedAt, k.CreatedAt, u.CreatedAt)
			}
		}
	}
}

const header = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active," +
	"access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service," +
	"access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service," +
	"cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated"

// FuzzParseCredentialReport checks, for any input in, that the parser
// does not panic; that an error is "empty credential report" or a
// *ParseError naming a line; and that a report it accepts holds only legal
// IAM user names, sorted and unique, and survives being written out as a
// credential report and parsed again unchanged. For any name, a one-user
// report naming that user parses to exactly that name when it is a legal
// IAM user name (no_information is), and fails on line 2's user column
// when it is not. Seeds: every testdata/*.csv, and
// testdata/fuzz/FuzzParseCredentialReport (hostile names, duplicates).
func FuzzParseCredentialReport(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.csv"))
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "alice")
	}
	f.Fuzz(func(t *testing.T, in []byte, name string) {
		checkNamed(t, name)
		rep, err := ParseCredentialReport(bytes.NewReader(in))
		if err != nil {
			var pe *ParseError
			switch {
			case errors.Is(err, errEmptyReport):
			case !errors.As(err, &pe):
				t.Fatalf("ParseCredentialReport error %q (%T) is not a *ParseError; want every fault to name its line", err, err)
			case pe.Line < 1 || !strings.HasPrefix(err.Error(), fmt.Sprintf("credential report line %d", pe.Line)):
				t.Errorf("ParseCredentialReport error %q has line %d; want it to name a line >= 1", err, pe.Line)
			}
			return
		}
		if rep.Root != nil && !rep.Root.IsRoot() {
			t.Errorf("Root.Name = %q; want %q", rep.Root.Name, RootUserName)
		}
		for _, w := range rep.Warnings {
			if w.Line < 2 || w.Column != colUser {
				t.Errorf("warning %q at line %d, column %q; want a data row's user column", w, w.Line, w.Column)
			}
		}
		for i, u := range rep.Users {
			if !legalIAMName.MatchString(u.Name) {
				t.Errorf("Users[%d].Name = %q; want a legal IAM user name", i, u.Name)
			}
			if i > 0 && rep.Users[i-1].Name >= u.Name {
				t.Errorf("Users[%d] = %q after %q; want sorted, unique names", i, u.Name, rep.Users[i-1].Name)
			}
			checkSlots(t, u)
		}
		if rep.Root != nil {
			checkSlots(t, *rep.Root)
		}
		if s := nonUTC(rep); s != "" {
			t.Errorf("%s is not in UTC", s)
		}
		out := formatReport(t, rep)
		again, err := ParseCredentialReport(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("parsing the report written from the parsed one: %v\n%s", err, out)
		}
		rep.Warnings = nil
		if diff := cmp.Diff(rep, again); diff != "" {
			t.Errorf("report written and parsed again differs (-parsed +round trip):\n%s", diff)
		}
	})
}

// checkSlots checks the invariants of a parsed user's credentials: no
// password dates without a password, and access key and signing
// certificate slots 1 and/or 2, in order, each holding a credential
// (active or dated).
func checkSlots(t *testing.T, u User) {
	t.Helper()
	if !u.PasswordEnabled && !(u.PasswordLastUsed.IsZero() && u.PasswordLastChanged.IsZero() && u.PasswordNextRotation.IsZero()) {
		t.Errorf("user %q has no password but password dates", u.Name)
	}
	for j, k := range u.AccessKeys {
		if k.Slot < 1 || k.Slot > 2 || j > 0 && u.AccessKeys[j-1].Slot >= k.Slot || !k.Active && k.CreatedAt.IsZero() {
			t.Errorf("user %q: access key slots %+v; want 1 and/or 2 in order, each active or dated", u.Name, u.AccessKeys)
		}
	}
	for j, c := range u.SigningCerts {
		if c.Slot < 1 || c.Slot > 2 || j > 0 && u.SigningCerts[j-1].Slot >= c.Slot || !c.Active && c.CreatedAt.IsZero() || c.ID != "" {
			t.Errorf("user %q: signing certificate slots %+v; want 1 and/or 2 in order, each active or dated, without an ID", u.Name, u.SigningCerts)
		}
	}
}

// checkNamed parses a one-user report whose user is name.
func checkNamed(t *testing.T, name string) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(strings.Split(header, ","))
	_ = w.Write([]string{name, "arn:aws:iam::123456789012:user/" + name, "2024-01-01T00:00:00Z", "false", "N/A", "N/A", "N/A", "false",
		"false", "N/A", "N/A", "N/A", "N/A", "false", "N/A", "N/A", "N/A", "N/A", "false", "N/A", "false", "N/A"})
	w.Flush()
	rep, err := ParseCredentialReport(&b)
	switch {
	case name == RootUserName:
	case legalIAMName.MatchString(name):
		if err != nil || len(rep.Users) != 1 || rep.Users[0].Name != name {
			t.Errorf("ParseCredentialReport(one user named %q) = %+v, %v; want that user", name, rep, err)
		}
	default:
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Line != 2 || pe.Column != colUser {
			t.Errorf("ParseCredentialReport(one user named %q) error = %v; want a *ParseError at line 2, column user", name, err)
		}
	}
}

// legalIAMName is IAM's user name pattern, [\w+=,.@-]+ with ASCII \w, 1 to
// 128 characters (existingUserNameType).
var legalIAMName = regexp.MustCompile(`^[A-Za-z0-9_+=,.@-]{1,128}$`)

// formatReport writes rep as a 22-column credential report, the way IAM
// does: N/A for no value, not_supported for root's password_enabled when
// root has a password (false when not).
func formatReport(t *testing.T, rep *CredentialReport) []byte {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(strings.Split(header, ",")); err != nil {
		t.Fatal(err)
	}
	ts := func(v time.Time) string {
		if v.IsZero() {
			return "N/A"
		}
		return v.Format(time.RFC3339Nano)
	}
	str := func(v string) string {
		if v == "" {
			return "N/A"
		}
		return v
	}
	users := rep.Users
	if rep.Root != nil {
		users = append([]User{*rep.Root}, users...)
	}
	for _, u := range users {
		pw := strconv.FormatBool(u.PasswordEnabled)
		if u.IsRoot() && u.PasswordEnabled {
			pw = "not_supported"
		}
		rec := []string{u.Name, u.ARN, ts(u.CreatedAt), pw, ts(u.PasswordLastUsed), ts(u.PasswordLastChanged),
			ts(u.PasswordNextRotation), strconv.FormatBool(u.MFAActive)}
		for slot := 1; slot <= 2; slot++ {
			k := AccessKey{}
			for _, kk := range u.AccessKeys {
				if kk.Slot == slot {
					k = kk
				}
			}
			rec = append(rec, strconv.FormatBool(k.Active), ts(k.CreatedAt), ts(k.LastUsedAt), str(k.LastUsedRegion), str(k.LastUsedService))
		}
		for slot := 1; slot <= 2; slot++ {
			c := SigningCert{}
			for _, cc := range u.SigningCerts {
				if cc.Slot == slot {
					c = cc
				}
			}
			rec = append(rec, strconv.FormatBool(c.Active), ts(c.CreatedAt))
		}
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// BenchmarkParseCredentialReport parses a 5,000-user report.
func BenchmarkParseCredentialReport(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString(header + "\n")
	buf.WriteString("<root_account>,arn:aws:iam::123456789012:root,2019-03-04T10:00:00+00:00,not_supported,2026-11-02T08:15:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n")
	for i := range 5000 {
		created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
		ts := func(d time.Duration) string { return created.Add(d).Format("2006-01-02T15:04:05+00:00") }
		fmt.Fprintf(&buf, "user%05d@example.com,arn:aws:iam::123456789012:user/team%d/user%05d@example.com,%s,true,%s,%s,N/A,%t,"+
			"true,%s,%s,us-east-1,s3,%t,%s,N/A,N/A,N/A,false,N/A,false,N/A\n",
			i, i%7, i, ts(0), ts(400*time.Hour), ts(300*time.Hour), i%3 == 0,
			ts(10*time.Hour), ts(500*time.Hour), i%2 == 0, ts(20*time.Hour))
	}
	in := buf.Bytes()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		rep, err := ParseCredentialReport(bytes.NewReader(in))
		if err != nil {
			b.Fatal(err)
		}
		if len(rep.Users) != 5000 {
			b.Fatalf("parsed %d users; want 5000", len(rep.Users))
		}
	}
}
