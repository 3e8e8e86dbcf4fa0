package report

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
)

// Report formats, as --format spells them.
const (
	FormatTable    = "table"
	FormatJSON     = "json"
	FormatCSV      = "csv"
	FormatMarkdown = "markdown"
)

// Options tune the renderers that write for people.
type Options struct {
	// Width is the terminal width the table fits into; 0 (not a terminal:
	// a file, a pipe) means no limit, every line whole.
	Width int
	// Color adds ANSI colors to the table (severity, failed accounts). The
	// caller sets it only when writing to a terminal that wants colors.
	Color bool
	// Region is the AWS region ASFF findings name (ProductArn, resources);
	// empty means ASFFDefaultRegion.
	Region string
}

// renderer writes one format to a buffered writer; Render flushes it.
type renderer func(w io.Writer, r *Report, o Options) error

// formats lists every format in --help order. Adding a format is one entry.
var formats = []struct {
	name   string
	render renderer
}{
	{FormatTable, renderTable},
	{FormatJSON, renderJSON},
	{FormatCSV, renderCSV},
	{FormatMarkdown, renderMarkdown},
	{FormatHTML, renderHTML},
	{FormatASFF, renderASFF},
}

// Formats lists the formats this build renders, in --help order.
func Formats() []string {
	names := make([]string, len(formats))
	for i, f := range formats {
		names[i] = f.name
	}
	return names
}

// Render writes r to w in format. An unknown format is an error that lists
// the valid ones.
func Render(w io.Writer, r *Report, format string, o Options) error {
	if r == nil {
		return errors.New("render report: no report")
	}
	for _, f := range formats {
		if f.name != format {
			continue
		}
		bw := bufio.NewWriterSize(w, 64<<10)
		if err := f.render(bw, r, o); err != nil {
			return fmt.Errorf("write %s report: %w", format, err)
		}
		if err := bw.Flush(); err != nil {
			return fmt.Errorf("write %s report: %w", format, err)
		}
		return nil
	}
	return fmt.Errorf("unknown report format %q: want one of %s", format, strings.Join(Formats(), ", "))
}

// accountAliases maps account IDs to their aliases.
func accountAliases(r *Report) map[string]string {
	m := make(map[string]string, len(r.Accounts))
	for _, a := range r.Accounts {
		m[a.ID] = a.Alias
	}
	return m
}

// findingAlias is the finding's account alias: its own, else its account's.
func findingAlias(f *policy.Finding, aliases map[string]string) string {
	if f.AccountAlias != "" {
		return f.AccountAlias
	}
	return aliases[f.Account]
}

// severities lists severities from the highest down.
var severities = []string{config.SeverityCritical, config.SeverityHigh, config.SeverityMedium, config.SeverityLow, config.SeverityInfo}

// summaryLine reads "12 findings (3 critical, 4 high), 2 exempt". It counts
// r.Findings itself, so it always agrees with the rows printed.
func summaryLine(r *Report) string {
	s := Summarize(r.Findings)
	var b strings.Builder
	b.WriteString(plural(s.Findings, "finding", "findings"))
	var parts []string
	for _, sev := range severities {
		if n := s.BySeverity[sev]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, sev))
		}
	}
	// Severities the renderers do not know still add up.
	other := s.Findings
	for _, sev := range severities {
		other -= s.BySeverity[sev]
	}
	if other > 0 {
		parts = append(parts, fmt.Sprintf("%d other", other))
	}
	if len(parts) > 0 {
		b.WriteString(" (" + strings.Join(parts, ", ") + ")")
	}
	if s.Exempt > 0 {
		fmt.Fprintf(&b, ", %d exempt", s.Exempt)
	}
	return b.String()
}

// failedAccounts lists the IDs of accounts whose scan failed.
func failedAccounts(r *Report) []string {
	var ids []string
	for _, a := range r.Accounts {
		if a.Status == StatusError {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// credentialLabel names a finding's credential for people: "key 1
// AKIA…MPLE", "cert 2 ASCA…MPLE", "codecommit credential ACCA…MPLE",
// "ssh key APKA…MPLE", "password", "mfa", "root key 1", "user",
// "account".
func credentialLabel(f *policy.Finding) string {
	return withKeyID(credentialKind(f), shortKeyID(f.KeyID))
}

// credentialKind is credentialLabel without the credential's ID.
func credentialKind(f *policy.Finding) string {
	slot := func(s string) string {
		if f.Slot > 0 {
			return s + " " + strconv.Itoa(f.Slot)
		}
		return s
	}
	switch f.Credential {
	case policy.CredentialAccessKey:
		return slot("key")
	case policy.CredentialSigningCert:
		return slot("cert")
	case policy.CredentialServiceCredential:
		if svc := serviceName(f.Service); svc != "" {
			return svc + " credential"
		}
		return "service credential"
	case policy.CredentialSSHKey:
		return "ssh key"
	case policy.CredentialRoot:
		switch f.Rule {
		case config.RuleRootSigningCert:
			return slot("root cert")
		case config.RuleRootRecentUse:
			return "root"
		}
		return slot("root key")
	}
	return f.Credential
}

// withKeyID is kind followed by id, when there is one.
func withKeyID(kind, id string) string {
	if id == "" {
		return kind
	}
	return kind + " " + id
}

// serviceName is a service-specific credential's service as people say
// it: "codecommit" for codecommit.amazonaws.com.
func serviceName(service string) string {
	name, _, _ := strings.Cut(service, ".")
	return name
}

// controlsText is the finding's controls, "CIS 1.5, CIS 1.6", or "".
func controlsText(f *policy.Finding) string {
	return strings.Join(f.Controls, ", ")
}

// tagMarks says what the user's tags decided for f — "class machine from
// tag UserType=machine", "exempt from tag keywarden:exempt=true" — or nil.
// Users can often tag themselves, so every format shows these. The text
// holds the user's tag values: each renderer cleans it as it cleans names.
func tagMarks(f *policy.Finding) []string {
	var marks []string
	if f.ClassFromTag != "" {
		marks = append(marks, "class "+f.Class+" from tag "+f.ClassFromTag)
	}
	if f.Exempt && f.ExemptFromTag != "" {
		marks = append(marks, "exempt from tag "+f.ExemptFromTag)
	}
	return marks
}

// shortKeyID keeps a credential ID's first four and last four characters.
func shortKeyID(id string) string {
	r := []rune(id)
	if len(r) <= 9 {
		return id
	}
	return string(r[:4]) + "…" + string(r[len(r)-4:])
}

// cleanText makes a user-controlled string safe to print on a terminal or in
// a document: every control character (C0, DEL, C1: among them ESC, which
// starts ANSI sequences, CR, LF and TAB) and every bidirectional override is
// replaced with U+FFFD, so it can neither drive the terminal nor hide itself.
// Invalid UTF-8 becomes U+FFFD too.
func cleanText(s string) string {
	if !needsClean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, c := range s {
		if isUnsafeRune(c) {
			b.WriteRune(unicode.ReplacementChar)
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func needsClean(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, c := range s {
		if isUnsafeRune(c) {
			return true
		}
	}
	return false
}

func isUnsafeRune(c rune) bool {
	return unicode.IsControl(c) || unicode.Is(unicode.Bidi_Control, c)
}
