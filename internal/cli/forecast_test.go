package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	ical "github.com/arran4/golang-ical"

	"github.com/keywarden/keywarden/internal/forecast"
)

func TestForecastFlagsParse(t *testing.T) {
	f, _, _ := testFactory(false)
	var got *ForecastOptions
	cmd := NewCmdForecast(f, func(_ context.Context, o *ForecastOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--config", "k.yaml", "--format", "ics", "-o", "f.ics", "--as-of", "2026-12-01",
		"--credential-report", "cr.csv", "--account", "111111111111", "--region", "eu-west-1", "--profile", "audit", "--days", "14"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := &ForecastOptions{Source: Source{ConfigFile: "k.yaml", AsOf: "2026-12-01", CredentialReport: "cr.csv",
		Accounts: []string{"111111111111"}, Region: "eu-west-1", Profile: "audit"}, Format: "ics", Output: "f.ics", Days: 14}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parsed options = %+v; want %+v", got, want)
	}
	cmd = NewCmdForecast(f, func(_ context.Context, o *ForecastOptions) error { got = o; return nil })
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil || got.Days != DefaultForecastDays {
		t.Errorf("default --days = %d (%v); want %d", got.Days, err, DefaultForecastDays)
	}
}

// TestForecastOffline: alice's and bob's keys (see writeReportFile) over 60
// days from 2026-11-23: both go unused 45 days after their last use on
// 2026-11-22 10:00, and bob's key reaches 70 and 80 days.
func TestForecastOffline(t *testing.T) {
	reportFile := writeReportFile(t)
	f, out, errOut := testFactory(false)
	code := Main(context.Background(), f, []string{"forecast", "--credential-report", reportFile, "--as-of", "2026-11-23", "--days", "60"})
	if code != ExitOK {
		t.Fatalf("forecast exit = %d; want 0\n%s", code, errOut)
	}
	var fc forecast.Forecast
	if err := json.Unmarshal(out.Bytes(), &fc); err != nil {
		t.Fatalf("forecast output is not JSON (stdout is not a terminal): %v\n%s", err, out)
	}
	var got []string
	for _, e := range fc.Events {
		got = append(got, e.At.Format("2006-01-02T15:04")+" "+e.User+" "+e.Rule+" "+e.Action)
	}
	want := []string{
		"2027-01-06T10:00 alice access_key_unused notify",
		"2027-01-06T10:00 bob access_key_unused notify",
		"2027-01-10T10:00 bob access_key_age notify",
		"2027-01-20T10:00 bob access_key_age disable",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("forecast events = %q; want %q", got, want)
	}
	if fc.Schema != forecast.Schema || fc.Days != 60 {
		t.Errorf("forecast schema %q, days %d; want %s, 60", fc.Schema, fc.Days, forecast.Schema)
	}
}

func TestForecastICSFile(t *testing.T) {
	reportFile := writeReportFile(t)
	path := filepath.Join(t.TempDir(), "keywarden.ics")
	f, out, errOut := testFactory(true)
	code := Main(context.Background(), f, []string{"forecast", "--credential-report", reportFile, "--as-of", "2026-11-23", "--days", "60", "-o", path})
	if code != ExitOK {
		t.Fatalf("forecast exit = %d\n%s", code, errOut)
	}
	if out.Len() != 0 {
		t.Errorf("forecast with --output wrote %q to stdout; want nothing", out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cal, err := ical.ParseCalendar(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	if n := len(cal.Events()); n != 4 {
		t.Errorf("%s has %d events; want 4 (format from the .ics extension)", path, n)
	}
}

func TestForecastUsageErrors(t *testing.T) {
	reportFile := writeReportFile(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--days", "0"}, "--days 0: want 1 to 3660"},
		{[]string{"--format", "xml"}, `--format "xml": want one of table, json, ics`},
		{[]string{"--as-of", "soon"}, `--as-of "soon"`},
		{[]string{"--account", "12"}, `--account "12"`},
	} {
		f, _, errOut := testFactory(false)
		args := append([]string{"forecast", "--credential-report", reportFile}, tt.args...)
		if code := Main(context.Background(), f, args); code != ExitUsage || !strings.Contains(errOut.String(), tt.want) {
			t.Errorf("forecast %v: exit %d, stderr %q; want exit 2 and %q", tt.args, code, errOut, tt.want)
		}
	}
}

func TestForecastFormatFromFlags(t *testing.T) {
	for _, tt := range []struct {
		format, output string
		tty            bool
		want           string
	}{
		{"", "", true, "table"}, {"", "", false, "json"}, {"", "f.ics", false, "ics"}, {"", "f.txt", false, "table"},
		{"", "f.json", true, "json"}, {"ICS", "", false, "ics"},
	} {
		f, _, _ := testFactory(tt.tty)
		if got, err := forecastFormat(f, tt.format, tt.output); err != nil || got != tt.want {
			t.Errorf("forecastFormat(%q, %q, tty %v) = %q, %v; want %q", tt.format, tt.output, tt.tty, got, err, tt.want)
		}
	}
}

func TestScanFormatHTMLFromExtension(t *testing.T) {
	f, _, _ := testFactory(false)
	if got, err := resolveFormat(f, "", "report.html"); err != nil || got != "html" {
		t.Errorf("resolveFormat(report.html) = %q, %v; want html", got, err)
	}
}
