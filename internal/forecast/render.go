package forecast

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"

	ical "github.com/arran4/golang-ical"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/termtable"
)

// Forecast formats, as --format spells them.
const (
	FormatTable = "table"
	FormatJSON  = "json"
	FormatICS   = "ics"
)

// Formats lists the formats in --help order.
func Formats() []string { return []string{FormatTable, FormatJSON, FormatICS} }

// Render writes fc to w in format. The table fits width columns (wrapping
// names, then leaving out STAGE and ACTION: termtable); 0 — a file, a
// pipe — means every line whole.
func Render(w io.Writer, fc *Forecast, format string, width int) error {
	if fc == nil {
		return errors.New("render forecast: no forecast")
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var err error
	switch format {
	case FormatTable:
		err = renderTable(bw, fc, width)
	case FormatJSON:
		err = renderJSON(bw, fc)
	case FormatICS:
		err = renderICS(bw, fc)
	default:
		return fmt.Errorf("unknown forecast format %q: want one of %s", format, strings.Join(Formats(), ", "))
	}
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("write %s forecast: %w", format, err)
	}
	return nil
}

// renderJSON writes the keywarden.forecast/v1 document: two-space indent,
// times in RFC 3339 UTC to the second, events always an array.
func renderJSON(w io.Writer, fc *Forecast) error {
	out := *fc
	out.Schema = Schema
	out.GeneratedAt = fc.GeneratedAt.UTC().Truncate(time.Second)
	out.AsOf = fc.AsOf.UTC().Truncate(time.Second)
	out.Until = fc.Until.UTC().Truncate(time.Second)
	if out.Events == nil {
		out.Events = []Event{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(&out)
}

// tableColumns are the forecast table's columns.
var tableColumns = []termtable.Column{
	{Header: "DATE"},
	{Header: "ACCOUNT"},
	{Header: "USER", Wrap: true},
	{Header: "CREDENTIAL", Wrap: true},
	{Header: "RULE", Wrap: true},
	{Header: "STAGE", AlignRight: true, Drop: 1},
	{Header: "ACTION"},
	{Header: "SEVERITY"},
	{Header: "CHANGE", Wrap: true, Drop: 2},
}

// renderTable writes one row per event under a heading, in date order and
// on one date the most severe first; user-controlled text has its control
// characters replaced. A finding that ends shows "RULE (ends)" and action
// "-".
func renderTable(w io.Writer, fc *Forecast, width int) error {
	head := fmt.Sprintf("Forecast from %s to %s (%d days): %s\n", fc.AsOf.Format(time.RFC3339), fc.Until.Format(time.RFC3339),
		fc.Days, plural(len(fc.Events), "stage change", "stage changes"))
	if _, err := io.WriteString(w, head); err != nil {
		return err
	}
	if len(fc.Events) == 0 {
		return nil
	}
	events := slices.Clone(fc.Events)
	slices.SortStableFunc(events, func(a, b Event) int {
		return cmp.Or(a.On.Compare(b.On.Time), cmp.Compare(policy.SeverityRank(b.Severity), policy.SeverityRank(a.Severity)))
	})
	rows := make([][]string, len(events))
	for i, e := range events {
		stage := "-"
		if e.StageAt > 0 {
			stage = fmt.Sprintf("%d d", e.StageAt)
		}
		change := e.Change
		if e.Exempt {
			change += " (exempt)"
		}
		// A finding that ends has no action from its date on; RULE says it
		// ends, since CHANGE is left out first on a narrow terminal.
		rule, action := e.Rule, e.Action
		if e.Change == ChangeEnds {
			rule, action = rule+" (ends)", "-"
		}
		rows[i] = []string{e.On.String(), clean(e.Account), clean(e.User), credential(&e), rule, stage, action, e.Severity, change}
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return err
	}
	return termtable.Write(w, tableColumns, rows, width)
}

// renderICS writes an iCalendar (RFC 5545) calendar with one all-day event
// per stage change (a finding that ends included). UIDs are unique per event and stable across runs (see
// EventUID), so a calendar that subscribes to the file updates events
// rather than duplicating or dropping them.
func renderICS(w io.Writer, fc *Forecast) error {
	cal := ical.NewCalendarFor("keywarden")
	cal.SetMethod(ical.MethodPublish)
	cal.SetXWRCalName("keywarden forecast")
	cal.SetXWRCalDesc(fmt.Sprintf("Credentials reaching a keywarden stage between %s and %s", fc.AsOf.Format(config.DateLayout), fc.Until.Format(config.DateLayout)))
	for _, e := range fc.Events {
		ev := cal.AddEvent(EventUID(&e))
		ev.SetDtStampTime(fc.GeneratedAt.UTC())
		ev.SetAllDayStartAt(e.On.Time)
		ev.SetAllDayEndAt(e.On.AddDate(0, 0, 1))
		ev.SetSummary(Summary(&e))
		from := "; stage from "
		if e.Change == ChangeEnds {
			from = "; ends at "
		}
		ev.SetDescription(clean(e.Reason) + "\n\nAccount " + clean(e.Account) + ", user " + clean(e.User) +
			", " + credential(&e) + ". Finding " + e.FindingID + from + e.At.UTC().Format(time.RFC3339) + ".")
		for _, c := range []string{"keywarden", e.Rule, e.Severity} {
			ev.AddProperty(ical.ComponentPropertyCategories, c)
		}
		ev.SetTimeTransparency(ical.TransparencyTransparent)
	}
	return cal.SerializeTo(w, ical.WithNewLineWindows)
}

// EventUID is an event's iCalendar UID, FINDING-RULE-STAGE-ACTION@keywarden,
// with "-exempt" before the "@" for a stage reached while exempt, and
// "-ends" last for a finding that ends: a key can reach a stage while
// exempt and then, when the exemption ends, have that same stage apply (an
// exemption_ends event), a finding can start and end at one stage in one
// window, and calendar clients keep only one event per UID. A finding's
// stages ascend, an exemption only ends and a finding ends at most once,
// so no two events of a forecast share a UID, and an event keeps its UID
// from run to run.
func EventUID(e *Event) string {
	suffix := ""
	if e.Exempt {
		suffix = "-exempt"
	}
	if e.Change == ChangeEnds {
		suffix += "-ends"
	}
	return fmt.Sprintf("%s-%s-%d-%s%s@keywarden", e.FindingID, e.Rule, e.StageAt, e.Action, suffix)
}

// Summary is an event's one-line title, e.g. "keywarden: disable access key
// 1 of alice (80 days old)"; for a finding that ends, without the action:
// "keywarden: ends: root user used within 7 days".
func Summary(e *Event) string {
	var what string
	user := clean(e.User)
	switch e.Rule {
	case config.RuleAccessKeyAge:
		what = fmt.Sprintf("%s access key %d of %s (%d days old)", e.Action, e.Slot, user, e.StageAt)
	case config.RuleAccessKeyUnused:
		what = fmt.Sprintf("%s: access key %d of %s unused %d days", e.Action, e.Slot, user, e.StageAt)
	case config.RulePasswordExpiry:
		what = fmt.Sprintf("%s: console password of %s expiring (%d days)", e.Action, user, e.StageAt)
	case config.RulePasswordUnused:
		what = fmt.Sprintf("%s: console password of %s unused %d days", e.Action, user, e.StageAt)
	case config.RuleSigningCertAge:
		what = fmt.Sprintf("%s signing certificate %d of %s (%d days old)", e.Action, e.Slot, user, e.StageAt)
	case config.RuleServiceCredentialAge:
		what = fmt.Sprintf("%s %s of %s (%d days old)", e.Action, serviceCredential(e), user, e.StageAt)
	case config.RuleServiceCredentialExpiry:
		if e.NextStageOn != nil {
			what = fmt.Sprintf("%s: %s of %s expires on %s", e.Action, serviceCredential(e), user, e.NextStageOn)
		} else {
			what = fmt.Sprintf("%s: %s of %s expired", e.Action, serviceCredential(e), user)
		}
	case config.RuleSSHKeyAge:
		what = fmt.Sprintf("%s: SSH public key %s of %s older than %d days", e.Action, clean(e.KeyID), user, e.StageAt)
	case config.RuleRootRecentUse:
		what = fmt.Sprintf("%s: root user used within %d days", e.Action, e.StageAt)
	case config.RuleDormantUser:
		what = fmt.Sprintf("%s: user %s dormant (no credential used for %d days)", e.Action, user, e.StageAt)
	case config.RuleRootAccessKey, config.RuleRootSigningCert:
		noun := "access key"
		if e.Rule == config.RuleRootSigningCert {
			noun = "signing certificate"
		}
		what = fmt.Sprintf("%s: root user has an active %s", e.Action, noun)
		if e.Slot > 0 {
			what += fmt.Sprintf(" (slot %d)", e.Slot)
		}
	case config.RuleTwoActiveKeys:
		what = fmt.Sprintf("%s: %s has two active access keys", e.Action, user)
	case config.RuleAccessKeyAtSetup:
		what = fmt.Sprintf("%s: access key %d of %s made with the user, never used", e.Action, e.Slot, user)
	case config.RuleConsoleAndKeys:
		what = fmt.Sprintf("%s: %s has a console password and access keys", e.Action, user)
	case config.RulePasswordPolicy:
		what = fmt.Sprintf("%s: password policy of account %s too weak", e.Action, clean(e.Account))
	default:
		what = fmt.Sprintf("%s: %s of %s", e.Action, e.Rule, user)
	}
	s := "keywarden: " + what
	if e.Change == ChangeEnds {
		// No action from its date on: "keywarden: ends: root user used…".
		what = strings.TrimPrefix(strings.TrimPrefix(what, e.Action+": "), e.Action+" ")
		s = "keywarden: ends: " + what
	}
	if e.Exempt {
		s += " [exempt]"
	}
	if e.Change == ChangeExemptionEnds {
		s += " [exemption ends]"
	}
	return s
}

// serviceCredential names a service-specific credential: "Amazon Bedrock
// API key ACCA…".
func serviceCredential(e *Event) string {
	return strings.TrimSpace(policy.ServiceCredentialName(clean(e.Service)) + " " + clean(e.KeyID))
}

// credential names an event's credential: "key 1 AKIA…", "password",
// "cert 1 ASCA…", "CodeCommit credential ACCA…", "SSH key APKA…", "root
// key 1", "root cert 1", "root" (root as a whole), "user", "account".
func credential(e *Event) string {
	withID := func(s string) string {
		if e.KeyID != "" {
			s += " " + clean(e.KeyID)
		}
		return s
	}
	switch e.Credential {
	case policy.CredentialRoot:
		switch e.Rule {
		case config.RuleRootAccessKey:
			return withID(fmt.Sprintf("root key %d", e.Slot))
		case config.RuleRootSigningCert:
			return withID(fmt.Sprintf("root cert %d", e.Slot))
		}
		return "root"
	case policy.CredentialAccessKey:
		return withID(fmt.Sprintf("key %d", e.Slot))
	case policy.CredentialSigningCert:
		return withID(fmt.Sprintf("cert %d", e.Slot))
	case policy.CredentialServiceCredential:
		return serviceCredential(e)
	case policy.CredentialSSHKey:
		return withID("SSH key")
	}
	return e.Credential
}

// clean replaces control and bidi characters (terminal escapes, line
// breaks) in user-controlled text.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return unicode.ReplacementChar
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
