package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/report"
)

// offlineScan is the arguments of a scan of the example credential
// report, which needs no AWS.
func offlineScan(args ...string) []string {
	cr, _ := filepath.Abs("../../examples/credential-report.csv")
	return append([]string{"scan", "--credential-report", cr, "--as-of", "2026-11-23"}, args...)
}

// TestVersionFlag: keywarden --version prints what keywarden version does.
func TestVersionFlag(t *testing.T) {
	dir := t.TempDir()
	v := keywarden(t, nil, dir, "version")
	flag := keywarden(t, nil, dir, "--version")
	if v.code != 0 || flag.code != 0 || !strings.HasPrefix(flag.stdout, "keywarden ") || flag.stdout != v.stdout {
		t.Errorf("keywarden --version: exit %d, %q; keywarden version: exit %d, %q; want both 0 and the same line", flag.code, flag.stdout, v.code, v.stdout)
	}
}

// TestConfigCheckDefaultFile: config check without a file reads
// ./keywarden.yaml, says which file is missing when it is, and names the
// line and column of a syntax error in it.
func TestConfigCheckDefaultFile(t *testing.T) {
	dir := t.TempDir()
	r := keywarden(t, nil, dir, "config", "check")
	if r.code != 2 || !strings.Contains(r.stderr, "./keywarden.yaml does not exist") || !strings.Contains(r.stderr, "keywarden config init -o ./keywarden.yaml") {
		t.Errorf("config check without ./keywarden.yaml: exit %d, stderr %q; want 2, naming the file and config init", r.code, r.stderr)
	}
	if r := keywarden(t, nil, dir, "config", "init", "-o", "keywarden.yaml"); r.code != 0 {
		t.Fatalf("config init: exit %d\n%s", r.code, r.stderr)
	}
	if r := keywarden(t, nil, dir, "config", "check"); r.code != 0 || r.stdout != "./keywarden.yaml: ok\n" {
		t.Errorf("config check of the starter file: exit %d, stdout %q, stderr %q; want 0 and ./keywarden.yaml: ok", r.code, r.stdout, r.stderr)
	}
	// The case: a syntax error far down the file (yaml.v3 alone
	// says line 5, the comment above version:).
	path := filepath.Join(dir, "keywarden.yaml")
	b, _ := os.ReadFile(path)
	lines := strings.Split(string(b), "\n")
	i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "  access_key_unknown_age:") }) + 1
	if i == 0 || !strings.HasPrefix(lines[i], "    enabled: true") {
		t.Fatalf("starter file: no enabled: true after access_key_unknown_age (line %d: %q)", i+1, lines[i])
	}
	lines[i] = strings.Replace(lines[i], "enabled: true", "enabled: x: true", 1)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("keywarden: ./keywarden.yaml:%d:14:", i+1) + " invalid YAML: mapping values are not allowed in this context"
	if r := keywarden(t, nil, dir, "config", "check"); r.code != 2 || !strings.HasPrefix(r.stderr, want) {
		t.Errorf("config check, line %d broken: exit %d, stderr %q; want 2 and %q", i+1, r.code, r.stderr, want)
	}
}

// readReport decodes a JSON report file.
func readReport(t *testing.T, path string) report.Report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rep
}

// TestScanSeveralOutputs: -o is repeatable: one scan writes every file,
// each in the format its extension names.
func TestScanSeveralOutputs(t *testing.T) {
	dir := t.TempDir()
	r := keywarden(t, nil, dir, offlineScan("-o", "r.html", "-o", "r.json", "-o", "r.csv", "-o", "r.md")...)
	if r.code != 0 {
		t.Fatalf("scan with four -o: exit %d\n%s", r.code, r.stderr)
	}
	if n := strings.Count(r.stderr, `msg="scan finished"`); n != 1 {
		t.Errorf("scan with four -o logged %d scans; want one\n%s", n, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("scan with -o wrote to stdout: %q", r.stdout)
	}
	rep := readReport(t, filepath.Join(dir, "r.json"))
	if len(rep.Findings) == 0 {
		t.Fatal("r.json has no findings; the example report has some")
	}
	f, _ := os.Open(filepath.Join(dir, "r.csv"))
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != len(rep.Findings)+1 {
		t.Errorf("r.csv: %d rows (%v); want a header and %d findings", len(rows), err, len(rep.Findings))
	}
	html, _ := os.ReadFile(filepath.Join(dir, "r.html"))
	md, _ := os.ReadFile(filepath.Join(dir, "r.md"))
	if !strings.Contains(string(html), "<html") || !strings.HasPrefix(string(md), "#") {
		t.Errorf("r.html starts %.40q, r.md %.40q; want an HTML page and Markdown", html, md)
	}
	// Several files need their format from the extension.
	r = keywarden(t, nil, dir, offlineScan("-o", "a.html", "-o", "a.out")...)
	if r.code != 2 || !strings.Contains(r.stderr, "-o a.out: cannot tell its format from the extension") {
		t.Errorf("scan -o a.html -o a.out: exit %d, %q; want 2 and the file named", r.code, r.stderr)
	}
}

// TestScanOutputDir: -o DIR/ writes every --format (html, json and csv
// by default) into DIR, created when missing, with timestamped names.
func TestScanOutputDir(t *testing.T) {
	dir := t.TempDir()
	name := regexp.MustCompile(`^keywarden-scan-\d{8}T\d{6}Z(-\d+)?\.(html|json|csv|md)$`)
	list := func(sub string) []string {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range ents {
			if !name.MatchString(e.Name()) {
				t.Errorf("%s/%s: not a timestamped report name", sub, e.Name())
			}
			out = append(out, filepath.Ext(e.Name()))
		}
		slices.Sort(out)
		return out
	}
	if r := keywarden(t, nil, dir, offlineScan("-o", "reports/")...); r.code != 0 {
		t.Fatalf("scan -o reports/: exit %d\n%s", r.code, r.stderr)
	}
	if got := list("reports"); !slices.Equal(got, []string{".csv", ".html", ".json"}) {
		t.Errorf("scan -o reports/ wrote %v; want .csv, .html and .json", got)
	}
	// An existing directory without the slash; formats from --format.
	if err := os.Mkdir(filepath.Join(dir, "md"), 0o700); err != nil {
		t.Fatal(err)
	}
	if r := keywarden(t, nil, dir, offlineScan("-o", "md", "--format", "markdown", "--format", "json")...); r.code != 0 {
		t.Fatalf("scan -o md --format markdown --format json: exit %d\n%s", r.code, r.stderr)
	}
	if got := list("md"); !slices.Equal(got, []string{".json", ".md"}) {
		t.Errorf("scan -o md --format markdown,json wrote %v; want .json and .md", got)
	}
	// Twice within a second: the second report gets its own name.
	for range 2 {
		if r := keywarden(t, nil, dir, offlineScan("-o", "twice/", "--format", "json")...); r.code != 0 {
			t.Fatalf("scan -o twice/: exit %d\n%s", r.code, r.stderr)
		}
	}
	if got := list("twice"); len(got) != 2 {
		t.Errorf("two scans -o twice/ left %v; want two files", got)
	}
	// Several formats and no -o: refused before scanning.
	if r := keywarden(t, nil, dir, offlineScan("--format", "json,csv")...); r.code != 2 || !strings.Contains(r.stderr, "give one -o FILE per format, or -o DIR/") {
		t.Errorf("scan --format json,csv without -o: exit %d, %q; want 2 and how to write them", r.code, r.stderr)
	}
}

// TestSeverityFilter: --severity keeps the findings at or above it in
// the output; --fail-on still counts every finding.
func TestSeverityFilter(t *testing.T) {
	dir := t.TempDir()
	all := keywarden(t, nil, dir, offlineScan("--format", "json")...)
	high := keywarden(t, nil, dir, offlineScan("--format", "json", "--severity", "high")...)
	if all.code != 0 || high.code != 0 {
		t.Fatalf("scan: exit %d and %d\n%s%s", all.code, high.code, all.stderr, high.stderr)
	}
	var repAll, repHigh report.Report
	if err := json.Unmarshal([]byte(all.stdout), &repAll); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(high.stdout), &repHigh); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range repAll.Findings {
		if policy.SeverityRank(f.Severity) >= policy.SeverityRank("high") {
			want = append(want, f.ID)
		}
	}
	var got []string
	for _, f := range repHigh.Findings {
		got = append(got, f.ID)
	}
	if len(want) == 0 || len(want) == len(repAll.Findings) || !slices.Equal(got, want) {
		t.Errorf("--severity high: findings %v; want the %d of %d at high or critical: %v", got, len(want), len(repAll.Findings), want)
	}
	if repHigh.Summary.Findings+repHigh.Summary.Exempt != len(want) {
		t.Errorf("--severity high: summary counts %d findings and %d exempt; want %d in all", repHigh.Summary.Findings, repHigh.Summary.Exempt, len(want))
	}
	// Nothing critical shown once the root key rule is off, yet --fail-on
	// medium still fails on the medium and high findings.
	cfg := filepath.Join(dir, "k.yaml")
	if err := os.WriteFile(cfg, []byte("version: 1\nrules: {root_access_key: {enabled: false}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := keywarden(t, nil, dir, offlineScan("--config", cfg, "--format", "json", "--severity", "critical", "--fail-on", "medium")...)
	var rep report.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 3 || len(rep.Findings) != 0 {
		t.Errorf("--severity critical --fail-on medium without critical findings: exit %d, %d findings shown (%v); want exit 3 and none shown", r.code, len(rep.Findings), err)
	}
	if r := keywarden(t, nil, dir, offlineScan("--severity", "urgent")...); r.code != 2 || !strings.Contains(r.stderr, `--severity "urgent": want info, low, medium, high or critical`) {
		t.Errorf("--severity urgent: exit %d, %q; want 2", r.code, r.stderr)
	}
}

// TestForecastSeverity: forecast --severity keeps the stage changes at or
// above it.
func TestForecastSeverity(t *testing.T) {
	dir := t.TempDir()
	cr, _ := filepath.Abs("../../examples/credential-report.csv")
	type fc struct {
		Events []struct{ User, Rule, Severity, At string }
	}
	read := func(args ...string) fc {
		r := keywarden(t, nil, dir, append([]string{"forecast", "--credential-report", cr, "--as-of", "2026-11-23", "--days", "365", "--format", "json"}, args...)...)
		var out fc
		if err := json.Unmarshal([]byte(r.stdout), &out); r.code != 0 || err != nil {
			t.Fatalf("forecast %v: exit %d, %v\n%s", args, r.code, err, r.stderr)
		}
		return out
	}
	all, high := read(), read("--severity", "high")
	var want []string
	for _, e := range all.Events {
		if policy.SeverityRank(e.Severity) >= policy.SeverityRank("high") {
			want = append(want, e.At+" "+e.User+" "+e.Rule)
		}
	}
	var got []string
	for _, e := range high.Events {
		got = append(got, e.At+" "+e.User+" "+e.Rule)
	}
	if len(want) == 0 || len(want) == len(all.Events) || !slices.Equal(got, want) {
		t.Errorf("forecast --severity high: %v; want the %d of %d events at high or critical: %v", got, len(want), len(all.Events), want)
	}
}

// TestHistoryAndUndoNameTheirState: history and undo say which state they
// read; a missing one is said to be missing and never created (history
// shows nothing, undo fails); history --notices shows each notice's
// finding ID.
func TestHistoryAndUndoNameTheirState(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "keywarden.db")
	r := keywarden(t, nil, dir, "history", "--format", "table")
	if r.code != 0 || !strings.Contains(r.stdout, "(no actions recorded)") ||
		!strings.HasPrefix(r.stderr, "state: sqlite://keywarden.db is missing: keywarden.db does not exist") {
		t.Errorf("history without a state: exit %d, stdout %q, stderr %q; want 0, no actions, and the state missing", r.code, r.stdout, r.stderr)
	}
	r = keywarden(t, nil, dir, "undo", "run-1.1")
	if r.code != 1 || !strings.Contains(r.stderr, "keywarden: state sqlite://keywarden.db: keywarden.db does not exist") {
		t.Errorf("undo without a state: exit %d, stderr %q; want 1 and the state missing", r.code, r.stderr)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("history and undo created %s (stat: %v); want it left missing", db, err)
	}

	cr, _ := filepath.Abs("../../examples/credential-report.csv")
	if r := keywarden(t, nil, dir, "run", "--credential-report", cr, "--as-of", "2026-11-23", "--format", "json"); r.code != 0 {
		t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
	}
	r = keywarden(t, nil, dir, "history", "--notices", "--format", "table")
	if r.code != 0 || !strings.HasPrefix(r.stderr, "state: sqlite://keywarden.db\n") {
		t.Fatalf("history --notices: exit %d, stderr %q; want 0 and the state named", r.code, r.stderr)
	}
	j := keywarden(t, nil, dir, "history", "--notices", "--format", "json")
	var notices []struct{ Finding, Audience string }
	if err := json.Unmarshal([]byte(j.stdout), &notices); err != nil || len(notices) < 2 {
		t.Fatalf("history --notices --format json: %v, %d notices", err, len(notices))
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if !strings.HasSuffix(strings.TrimSpace(lines[0]), "FINDING") || len(lines) != len(notices)+1 {
		t.Fatalf("history --notices table: header %q, %d rows; want a FINDING column and %d rows", lines[0], len(lines)-1, len(notices))
	}
	for i, n := range notices {
		if f := strings.Fields(lines[i+1]); f[len(f)-1] != n.Finding {
			t.Errorf("history --notices row %d: %q; want it to end with the finding ID %s", i+1, lines[i+1], n.Finding)
		}
	}
}
