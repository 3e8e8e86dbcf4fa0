package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/forecast"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/report"
	"github.com/keywarden/keywarden/internal/run"
)

// DefaultDirFormats are the formats scan writes into an -o DIR/ when
// --format is not given: a page for people, the data for tools and a
// spreadsheet.
var DefaultDirFormats = []string{report.FormatHTML, report.FormatJSON, report.FormatCSV}

// formatExt is the file extension scan gives each format in an -o DIR/.
var formatExt = map[string]string{
	report.FormatTable:    ".txt",
	report.FormatJSON:     ".json",
	report.FormatCSV:      ".csv",
	report.FormatMarkdown: ".md",
	report.FormatHTML:     ".html",
	report.FormatASFF:     ".asff.json",
}

// reportOutput is one report scan writes: a format to a file, or to
// stdout when path is "".
type reportOutput struct {
	path, format string
}

// isDirOutput reports whether an -o names a directory: it ends with a
// slash, or it is an existing directory.
func isDirOutput(o string) bool {
	if strings.HasSuffix(o, "/") || strings.HasSuffix(o, string(os.PathSeparator)) {
		return true
	}
	st, err := os.Stat(o)
	return err == nil && st.IsDir()
}

// formatFromExt is the report format a file name's extension names.
func formatFromExt(name string) (string, bool) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return report.FormatJSON, true
	case ".csv":
		return report.FormatCSV, true
	case ".md", ".markdown":
		return report.FormatMarkdown, true
	case ".txt":
		return report.FormatTable, true
	case ".html", ".htm":
		return report.FormatHTML, true
	}
	return "", false
}

// planOutputs decides what scan writes where, from its repeatable
// --format and -o, before anything is scanned (so a mistake costs no
// scan):
//   - no -o: one format (the flag's, else table on a terminal and JSON
//     otherwise) to stdout;
//   - one -o FILE: --format's, else from the extension (JSON when it
//     names none), as before;
//   - several -o FILE: each file's format from its extension;
//   - -o DIR/ (a trailing slash, or an existing directory): every
//     --format given, else DefaultDirFormats, each to
//     DIR/keywarden-scan-TIMESTAMP.EXT (UTC, the time the scan starts; a
//     name already taken gets -2, -3, …). A missing DIR/ is created.
func planOutputs(f *Factory, formats, outputs []string, now time.Time) ([]reportOutput, error) {
	var fmts []string
	for _, v := range formats {
		v = strings.ToLower(strings.TrimSpace(v))
		if !slices.Contains(report.Formats(), v) {
			return nil, fmt.Errorf("--format %q: want one of %s", v, strings.Join(report.Formats(), ", "))
		}
		if !slices.Contains(fmts, v) {
			fmts = append(fmts, v)
		}
	}
	var files, dirs []string
	for _, o := range outputs {
		switch {
		case o == "":
			return nil, errors.New("-o \"\": name a file or a directory (DIR/)")
		case isDirOutput(o):
			dirs = append(dirs, o)
		default:
			files = append(files, o)
		}
	}
	switch {
	case len(outputs) == 0 && len(fmts) > 1:
		return nil, fmt.Errorf("--format %s: several formats are written to files: give one -o FILE per format, or -o DIR/", strings.Join(fmts, ","))
	case len(outputs) == 0:
		format, err := resolveFormat(f, first(fmts), "")
		return []reportOutput{{format: format}}, err
	case len(files) == 1 && len(dirs) == 0:
		if len(fmts) > 1 {
			return nil, fmt.Errorf("--format %s with one -o FILE: give one -o FILE per format, or -o DIR/", strings.Join(fmts, ","))
		}
		format, err := resolveFormat(f, first(fmts), files[0])
		return []reportOutput{{path: files[0], format: format}}, err
	case len(fmts) > 0 && len(dirs) == 0:
		return nil, fmt.Errorf("--format %s with several -o FILE: each file's format comes from its extension; --format is for -o DIR/", strings.Join(fmts, ","))
	}
	var out []reportOutput
	for _, file := range files {
		format, ok := formatFromExt(file)
		if !ok {
			return nil, fmt.Errorf("-o %s: cannot tell its format from the extension (with several outputs each file names its format: .json, .csv, .md, .html or .txt)", file)
		}
		out = append(out, reportOutput{path: file, format: format})
	}
	if len(fmts) == 0 {
		fmts = DefaultDirFormats
	}
	stamp := now.UTC().Format("20060102T150405Z")
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o777); err != nil { // less the umask
			return nil, fmt.Errorf("-o %s: %w", dir, err)
		}
		for _, format := range fmts {
			out = append(out, reportOutput{path: freeName(dir, "keywarden-scan-"+stamp, formatExt[format]), format: format})
		}
	}
	seen := map[string]bool{}
	for _, o := range out {
		abs, _ := filepath.Abs(o.path)
		if seen[abs] {
			return nil, fmt.Errorf("-o %s is given twice", o.path)
		}
		seen[abs] = true
	}
	return out, nil
}

// freeName is DIR/BASE.EXT, or DIR/BASE-N.EXT for the first N from 2 that
// names no file yet.
func freeName(dir, base, ext string) string {
	name := filepath.Join(dir, base+ext)
	for n := 2; ; n++ {
		if _, err := os.Lstat(name); errors.Is(err, os.ErrNotExist) {
			return name
		}
		name = filepath.Join(dir, fmt.Sprintf("%s-%d%s", base, n, ext))
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// parseSeverity reads --severity: 0 (everything) when empty.
func parseSeverity(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	if rank := policy.SeverityRank(strings.ToLower(s)); rank > 0 {
		return rank, nil
	}
	return 0, usageError(fmt.Errorf("--severity %q: want info, low, medium, high or critical", s))
}

// atOrAbove reports whether severity reaches rank (0: any).
func atOrAbove(severity string, rank int) bool {
	return rank == 0 || policy.SeverityRank(severity) >= rank
}

// reportAtOrAbove is rep with only the findings at or above rank (exempt
// ones too), its summary counted again; rep itself when rank is 0.
func reportAtOrAbove(rep *report.Report, rank int) *report.Report {
	if rank == 0 || rep == nil {
		return rep
	}
	shown := *rep
	shown.Findings = []policy.Finding{}
	for _, fd := range rep.Findings {
		if atOrAbove(fd.Severity, rank) {
			shown.Findings = append(shown.Findings, fd)
		}
	}
	shown.Summary = report.Summarize(shown.Findings)
	if rep.Inventory != nil {
		// The HTML calendar counts the coming stage changes: the same
		// severities as the findings it filters.
		inv := *rep.Inventory
		inv.Upcoming = eventsAtOrAbove(rep.Inventory.Upcoming, rank)
		shown.Inventory = &inv
	}
	return &shown
}

// runAtOrAbove is res with its owner messages' items cut to those at or
// above rank (a message left with none is not listed unless it was sent,
// failed or not sent: what was done is always shown); digests, actions and
// guards are always shown. res itself when rank is 0.
func runAtOrAbove(res *run.Result, rank int) *run.Result {
	if rank == 0 {
		return res
	}
	shown := *res
	shown.Report = reportAtOrAbove(res.Report, rank)
	shown.Deliveries = nil
	for _, d := range res.Deliveries {
		if d.Message != nil {
			m := *d.Message
			m.Items = nil
			for _, it := range d.Message.Items {
				if atOrAbove(it.Severity, rank) {
					m.Items = append(m.Items, it)
				}
			}
			// --severity filters what is shown, never what was done: a
			// message sent, failed or not sent for findings below the
			// level is still listed, without those items.
			if len(m.Items) == 0 && (d.Status == run.DeliveryPlanned || d.Status == run.DeliverySkipped) {
				continue
			}
			d.Message = &m
		}
		shown.Deliveries = append(shown.Deliveries, d)
	}
	return &shown
}

// forecastAtOrAbove is fc with only the stage changes at or above rank.
func forecastAtOrAbove(fc *forecast.Forecast, rank int) *forecast.Forecast {
	if rank == 0 {
		return fc
	}
	shown := *fc
	shown.Events = eventsAtOrAbove(fc.Events, rank)
	return &shown
}

// eventsAtOrAbove are the stage changes of events at or above rank.
func eventsAtOrAbove(events []forecast.Event, rank int) []forecast.Event {
	out := []forecast.Event{}
	for _, e := range events {
		if atOrAbove(e.Severity, rank) {
			out = append(out, e)
		}
	}
	return out
}
