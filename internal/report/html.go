package report

import (
	"cmp"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/forecast"
	"github.com/keywarden/keywarden/internal/policy"
)

// FormatHTML is the self-contained HTML report.
const FormatHTML = "html"

//go:embed assets/report.html.tmpl assets/report.css assets/report.js
var htmlAssets embed.FS

// htmlPage is the parsed page template with its inline style and script.
// The Content-Security-Policy names their SHA-256 hashes, so the browser
// runs this script and nothing else: no inline event handlers, no injected
// <script>, no request to any host (default-src 'none').
var htmlPage = func() struct {
	tmpl *template.Template
	css  string
	js   string
	csp  string
} {
	read := func(name string) string {
		b, err := htmlAssets.ReadFile("assets/" + name)
		if err != nil {
			panic(err)
		}
		return string(b)
	}
	css, js := read("report.css"), read("report.js")
	hash := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	csp := "default-src 'none'; style-src " + hash(css) + "; script-src " + hash(js) +
		"; img-src data:; base-uri 'none'; form-action 'none'"
	tmpl := template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{"wbr": wbr}).
		ParseFS(htmlAssets, "assets/report.html.tmpl"))
	return struct {
		tmpl *template.Template
		css  string
		js   string
		csp  string
	}{tmpl, css, js, csp}
}()

// renderHTML writes one self-contained HTML file: summary cards, three SVG
// charts (key-age histogram with the stage thresholds, findings by account
// and rule, a 30-day calendar of stage changes) and a findings table
// that can be sorted and filtered. html/template escapes every value from
// IAM for its context; the page makes no request to any host.
func renderHTML(w io.Writer, r *Report, _ Options) error {
	return htmlPage.tmpl.Execute(w, newHTMLView(r))
}

// htmlView is what the page template renders.
type htmlView struct {
	CSP       string
	CSS       template.CSS
	JS        template.JS
	AsOf      string
	Generated string
	Cards     []htmlCard
	Failed    []htmlFailed
	Severity  []htmlCount
	KeyAge    *htmlHistogram
	ByAccount *htmlStacked
	Calendar  *htmlCalendar
	Filters   []htmlFilter
	Rows      []htmlRow
	// Compliance is the per-control summary; ComplianceLine counts it.
	Compliance     []htmlControl
	ComplianceLine string
}

// htmlControl is one control of the compliance section: Mark and Word
// say its status without color (✓ passed, ✗ failed, – not checked).
type htmlControl struct {
	ID, Title, Status, Mark, Word, Findings, Why string
}

// htmlFailed is an account whose scan failed, its alias and error
// cleaned.
type htmlFailed struct {
	ID, Alias, Error string
}

// htmlCard is one summary card.
type htmlCard struct {
	Label, Value, Detail string
}

// htmlCount is a labelled count, e.g. "3 high".
type htmlCount struct {
	Label string
	N     int
}

// htmlFilter is one <select> over the findings table: Key names the row's
// data-* attribute it filters on.
type htmlFilter struct {
	Key, Label string
	Options    []htmlOption
}

type htmlOption struct{ Value, Label string }

// htmlRow is one finding in the table.
type htmlRow struct {
	ID, Account, AccountLabel, Alias, User, Credential, Rule, Severity string
	SeverityRank, AgeDays                                              int
	Stage, StageLabel, Next, Reason, Recipients                        string
	Exempt                                                             bool
	// TagMarks say what the user's tags decided (tagMarks), cleaned.
	TagMarks []string
	// Controls are the finding's controls, "CIS 1.5 · CIS 1.6".
	Controls string
}

func newHTMLView(r *Report) *htmlView {
	v := &htmlView{
		CSP:       htmlPage.csp,
		CSS:       template.CSS(htmlPage.css),
		JS:        template.JS(htmlPage.js),
		AsOf:      jsonTime(r.AsOf).Format(time.RFC3339),
		Generated: jsonTime(r.GeneratedAt).Format(time.RFC3339),
	}
	for _, a := range r.Accounts {
		if a.Status == StatusError {
			v.Failed = append(v.Failed, htmlFailed{ID: a.ID, Alias: cleanText(a.Alias), Error: cleanText(a.Error)})
		}
	}
	v.Cards, v.Severity = htmlCards(r)
	v.KeyAge = newHistogram(r.Inventory)
	v.ByAccount = newStacked(r)
	v.Calendar = newCalendar(r)
	v.Rows = htmlRows(r)
	v.Filters = htmlFilters(r, v.Rows)
	v.Compliance, v.ComplianceLine = htmlCompliance(complianceOf(r))
	return v
}

// htmlCompliance is the compliance section's rows and its count line.
func htmlCompliance(cs []ControlStatus) ([]htmlControl, string) {
	out := make([]htmlControl, 0, len(cs))
	for _, c := range cs {
		h := htmlControl{ID: c.ID, Title: c.Title, Status: strings.ToLower(c.Status), Why: c.Why}
		switch c.Status {
		case ControlPassed:
			h.Mark, h.Word = "✓", "Passed"
		case ControlFailed:
			h.Mark, h.Word = "✗", "Failed"
		default:
			h.Mark, h.Word = "–", "Not checked"
		}
		if c.Status != ControlNotChecked {
			h.Findings = plural(c.Findings, "finding", "findings")
			if c.Findings > 0 {
				h.Findings += " in " + plural(c.Accounts, "account", "accounts")
			}
		}
		if c.Exempt > 0 {
			h.Findings = strings.TrimPrefix(h.Findings+fmt.Sprintf("; %d exempt", c.Exempt), "; ")
		}
		out = append(out, h)
	}
	p, f, n := ControlCounts(cs)
	line := fmt.Sprintf("%d passed, %d failed", p, f)
	if n > 0 {
		line += fmt.Sprintf(", %d not checked", n)
	}
	return out, line
}

// wbr escapes s for HTML text and lets it wrap after each @ . - _ and /:
// a <wbr> follows each (but the last character). A long IAM name then
// breaks where a reader expects, first.last@<wbr>example-<wbr>corp.com,
// and never one character per line, as overflow-wrap: anywhere does once
// a table squeezes its column. Callers pass text already cleaned
// (cleanText).
func wbr(s string) template.HTML {
	var b strings.Builder
	rs := []rune(s)
	for i, c := range rs {
		b.WriteString(template.HTMLEscapeString(string(c)))
		if i < len(rs)-1 && strings.ContainsRune("@.-_/", c) {
			b.WriteString("<wbr>")
		}
	}
	return template.HTML(b.String())
}

// htmlCards are the summary cards: accounts, users, access keys, findings
// (with the severity breakdown, listed separately), exempt, and the
// findings at a stage that acts (disable, delete, remove password). Every
// HTML report comes from keywarden scan, which changes nothing: the card
// says so instead of calling them planned actions.
func htmlCards(r *Report) ([]htmlCard, []htmlCount) {
	s := Summarize(r.Findings)
	users, keys := 0, 0
	for _, a := range r.Accounts {
		users += a.Users
		keys += a.AccessKeys
	}
	accounts := htmlCard{Label: "Accounts", Value: strconv.Itoa(len(r.Accounts))}
	if n := r.FailedAccounts(); n > 0 {
		accounts.Detail = fmt.Sprintf("%d failed", n)
	}
	acting := 0
	var parts []string
	for _, a := range []string{config.ActionDisable, config.ActionDelete, config.ActionRemovePassword} {
		if n := s.ByAction[a]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, strings.ReplaceAll(a, "_", " ")))
			acting += n
		}
	}
	cards := []htmlCard{
		accounts,
		{Label: "Users", Value: strconv.Itoa(users)},
		{Label: "Access keys", Value: strconv.Itoa(keys)},
		{Label: "Findings", Value: strconv.Itoa(s.Findings), Detail: plural(s.Exempt, "exempt", "exempt")},
		{Label: "At an action stage", Value: strconv.Itoa(acting), Detail: strings.Join(append(parts, "read-only scan: nothing changed"), "; ")},
	}
	var sev []htmlCount
	for _, name := range severities {
		if n := s.BySeverity[name]; n > 0 {
			sev = append(sev, htmlCount{name, n})
		}
	}
	return cards, sev
}

// htmlRows are the table's rows, most severe first and, within a
// severity, oldest first; ties keep the report's order. The page's script
// sorts by other columns and back.
func htmlRows(r *Report) []htmlRow {
	aliases := accountAliases(r)
	rows := make([]htmlRow, 0, len(r.Findings))
	for i := range r.Findings {
		f := &r.Findings[i]
		label, alias := f.Account, findingAlias(f, aliases)
		if alias != "" {
			label += " (" + alias + ")"
		}
		// html/template escapes markup; cleanText also replaces control
		// and bidi characters, which would otherwise show as boxes or
		// reorder the text around them.
		row := htmlRow{
			ID: f.ID, Account: f.Account, AccountLabel: cleanText(label), Alias: cleanText(alias), User: cleanText(f.User),
			Credential: mdCredential(f), Rule: f.Rule, Severity: f.Severity,
			SeverityRank: policy.SeverityRank(f.Severity), AgeDays: f.AgeDays,
			Stage: f.Action, StageLabel: strings.ReplaceAll(f.Action, "_", " "),
			Reason: cleanText(f.Reason), Recipients: cleanText(strings.Join(f.Recipients, ", ")), Exempt: f.Exempt,
			Controls: cleanText(strings.Join(f.Controls, " · ")),
		}
		if f.StageAt > 0 {
			row.StageLabel += fmt.Sprintf(" · %d\u00a0d", f.StageAt) // the number keeps its unit
		}
		if f.Exempt {
			row.Stage, row.StageLabel = "exempt", "exempt"
			row.Reason += " (exempt: " + cleanText(f.ExemptReason) + ")"
		}
		if f.NextStageOn != nil {
			row.Next = f.NextStageOn.String()
		}
		for _, m := range tagMarks(f) {
			row.TagMarks = append(row.TagMarks, cleanText(m))
		}
		rows = append(rows, row)
	}
	slices.SortStableFunc(rows, func(a, b htmlRow) int {
		return cmp.Or(cmp.Compare(b.SeverityRank, a.SeverityRank), cmp.Compare(b.AgeDays, a.AgeDays))
	})
	return rows
}

// htmlFilters offers, for each filterable column, the values that occur.
func htmlFilters(r *Report, rows []htmlRow) []htmlFilter {
	values := func(get func(htmlRow) (string, string)) []htmlOption {
		m := map[string]string{}
		for _, row := range rows {
			v, l := get(row)
			m[v] = l
		}
		opts := make([]htmlOption, 0, len(m))
		for _, v := range slices.Sorted(maps.Keys(m)) {
			opts = append(opts, htmlOption{v, m[v]})
		}
		return opts
	}
	accounts := values(func(row htmlRow) (string, string) { return row.Account, row.AccountLabel })
	sev := values(func(row htmlRow) (string, string) { return row.Severity, row.Severity })
	slices.SortStableFunc(sev, func(a, b htmlOption) int {
		return cmp.Compare(policy.SeverityRank(b.Value), policy.SeverityRank(a.Value))
	})
	return []htmlFilter{
		{Key: "account", Label: "Account", Options: accounts},
		{Key: "rule", Label: "Rule", Options: values(func(row htmlRow) (string, string) { return row.Rule, row.Rule })},
		{Key: "severity", Label: "Severity", Options: sev},
		{Key: "stage", Label: "Stage", Options: values(func(row htmlRow) (string, string) {
			return row.Stage, strings.ReplaceAll(row.Stage, "_", " ")
		})},
	}
}

// num formats an SVG coordinate.
func num(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// Histogram geometry (SVG user units).
const (
	histW, histH                          = 640.0, 260.0
	histLeft, histRight, histTop, histBot = 44.0, 12.0, 58.0, 36.0
	histBinDays                           = 10
)

// htmlHistogram is the key-age histogram.
type htmlHistogram struct {
	W, H      string
	Bars      []htmlBar
	Marks     []htmlMark
	YTicks    []htmlTick
	XTicks    []htmlTick
	Baseline  string
	PlotLeft  string
	PlotRight string
	Total     int
	Inactive  int
}

type htmlBar struct {
	X, Y, W, H, Title string
	N                 int
}

// htmlMark is a stage threshold line with its label.
type htmlMark struct {
	X, Y1, Y2, LabelY, Label, Title string
}

type htmlTick struct{ Pos, Label string }

// newHistogram bins active keys by age in 10-day bins up to 30 days past
// the last stage threshold (at least 120 days); the last bin holds every
// older key. Each distinct threshold is a dashed line labelled with its
// day count and actions.
func newHistogram(inv *Inventory) *htmlHistogram {
	if inv == nil {
		return nil
	}
	thresholds := map[int][]string{}
	for class, stages := range inv.KeyAgeStages {
		for _, s := range stages {
			thresholds[s.At] = append(thresholds[s.At], class+" "+strings.ReplaceAll(s.Action, "_", " "))
		}
	}
	maxAt := 0
	for at := range thresholds {
		maxAt = max(maxAt, at)
	}
	top := max(120, (maxAt+30+histBinDays-1)/histBinDays*histBinDays)
	nbins := top/histBinDays + 1 // the last bin: top and older
	bins := make([]int, nbins)
	h := &htmlHistogram{W: num(histW), H: num(histH), Inactive: inv.InactiveKeys}
	for _, c := range inv.ActiveKeyAges {
		b := min(max(c.AgeDays, 0)/histBinDays, nbins-1)
		bins[b] += c.Keys
		h.Total += c.Keys
	}
	maxN := 1
	for _, n := range bins {
		maxN = max(maxN, n)
	}
	yMax := niceCeil(maxN)
	plotW := histW - histLeft - histRight
	plotH := histH - histTop - histBot
	binW := plotW / float64(nbins)
	base := histH - histBot
	h.Baseline, h.PlotLeft, h.PlotRight = num(base), num(histLeft), num(histW-histRight)
	for i, n := range bins {
		bh := plotH * float64(n) / float64(yMax)
		lo := i * histBinDays
		title := fmt.Sprintf("%d–%d days: %s", lo, lo+histBinDays-1, plural(n, "key", "keys"))
		if i == nbins-1 {
			title = fmt.Sprintf("%d days or more: %s", lo, plural(n, "key", "keys"))
		}
		h.Bars = append(h.Bars, htmlBar{
			X: num(histLeft + float64(i)*binW + 1), Y: num(base - bh), W: num(binW - 2), H: num(bh), Title: title, N: n,
		})
		if i%3 == 0 || i == nbins-1 {
			label := strconv.Itoa(lo)
			if i == nbins-1 {
				label += "+"
			}
			h.XTicks = append(h.XTicks, htmlTick{Pos: num(histLeft + float64(i)*binW), Label: label})
		}
	}
	for _, y := range []int{0, yMax / 2, yMax} {
		h.YTicks = append(h.YTicks, htmlTick{Pos: num(base - plotH*float64(y)/float64(yMax)), Label: strconv.Itoa(y)})
	}
	for i, at := range slices.Sorted(maps.Keys(thresholds)) {
		x := histLeft + float64(at)/histBinDays*binW
		actions := thresholds[at]
		slices.Sort(actions)
		h.Marks = append(h.Marks, htmlMark{
			X: num(x), Y1: num(histTop - 6), Y2: num(base), LabelY: num(14 + float64(i%3)*14),
			Label: fmt.Sprintf("%d d", at), Title: fmt.Sprintf("%d days: %s", at, strings.Join(actions, ", ")),
		})
	}
	return h
}

// niceCeil rounds n up to 1, 2 or 5 times a power of ten (at least 2, so
// the middle tick is a whole number).
func niceCeil(n int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if v := m * p; v >= n && v >= 2 {
				return v
			}
		}
	}
}

// Stacked bar geometry.
const (
	stackW, stackLeft, stackRight, stackRow, stackTop = 640.0, 200.0, 48.0, 28.0, 8.0
)

// ruleOrder fixes each rule's color and legend position.
var ruleOrder = []string{
	config.RuleAccessKeyAge, config.RuleAccessKeyUnused, config.RulePasswordExpiry,
	config.RulePasswordUnused, config.RuleMFAMissing, config.RuleRootAccessKey,
	config.RuleAccessKeyUnknownAge,
}

// htmlStacked is the findings-by-account-and-rule chart.
type htmlStacked struct {
	W, H   string
	Rows   []htmlStackRow
	Legend []htmlLegend
}

type htmlStackRow struct {
	// Label is the account's ID and alias; Short, shown, fits left of
	// the bars (Label shows on hover).
	Label, Short, Y, TextY, TotalX string
	Total                          int
	Segs                           []htmlSeg
}

type htmlSeg struct {
	X, W, Y, H, Account, Rule, Color, Title string
}

type htmlLegend struct{ X, Y, Rule, Color string }

// newStacked draws one bar per account, one segment per rule, over the
// non-exempt findings; a click on a segment filters the table.
func newStacked(r *Report) *htmlStacked {
	if len(r.Accounts) == 0 && len(r.Findings) == 0 {
		return nil
	}
	counts := map[string]map[string]int{}
	var accounts []string
	aliases := accountAliases(r)
	for _, a := range r.Accounts {
		accounts = append(accounts, a.ID)
	}
	rules := slices.Clone(ruleOrder)
	for _, f := range r.Findings {
		if f.Exempt {
			continue
		}
		if counts[f.Account] == nil {
			counts[f.Account] = map[string]int{}
		}
		counts[f.Account][f.Rule]++
		if !slices.Contains(accounts, f.Account) {
			accounts = append(accounts, f.Account)
		}
		if !slices.Contains(rules, f.Rule) {
			rules = append(rules, f.Rule)
		}
	}
	slices.Sort(accounts)
	maxTotal := 1
	for _, m := range counts {
		t := 0
		for _, n := range m {
			t += n
		}
		maxTotal = max(maxTotal, t)
	}
	plotW := stackW - stackLeft - stackRight
	s := &htmlStacked{W: num(stackW)}
	for i, id := range accounts {
		y := stackTop + float64(i)*stackRow
		label := id
		if a := aliases[id]; a != "" {
			label += " (" + a + ")"
		}
		label = cleanText(label)
		row := htmlStackRow{Label: label, Short: shorten(label, stackLabelRunes), Y: num(y), TextY: num(y + stackRow/2 + 4)}
		x := stackLeft
		for _, rule := range rules {
			n := counts[id][rule]
			if n == 0 {
				continue
			}
			w := plotW * float64(n) / float64(maxTotal)
			row.Segs = append(row.Segs, htmlSeg{
				X: num(x), W: num(w), Y: num(y + 4), H: num(stackRow - 8), Account: id, Rule: rule,
				Color: ruleColor(rules, rule), Title: fmt.Sprintf("%s, %s: %s", label, rule, plural(n, "finding", "findings")),
			})
			x += w
			row.Total += n
		}
		row.TotalX = num(x + 6)
		s.Rows = append(s.Rows, row)
	}
	legendY := stackTop + float64(len(accounts))*stackRow + 8
	for i, rule := range rules {
		s.Legend = append(s.Legend, htmlLegend{
			X: num(float64(i%3) * 210), Y: num(legendY + float64(i/3)*20), Rule: rule, Color: ruleColor(rules, rule),
		})
	}
	s.H = num(legendY + float64((len(rules)+2)/3)*20 + 4)
	return s
}

// stackLabelRunes is as many characters as fit left of the bars
// (stackLeft at 12 units a character's height).
const stackLabelRunes = 26

// shorten keeps s within n runes, ending in "…" when it cuts.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// ruleColors is how many rule colours report.css defines (c0 …): one for
// each rule keywarden has, so no two rules of a chart share one.
const ruleColors = 18

// ruleColor is a rule's color class, by its position in rules.
func ruleColor(rules []string, rule string) string {
	return "c" + strconv.Itoa(slices.Index(rules, rule)%ruleColors)
}

// Calendar geometry.
const (
	calCell, calCellH, calTop = 88.0, 58.0, 22.0
)

// htmlCalendar is the calendar of stage changes in the UpcomingDays days
// from as_of's date, Monday first.
type htmlCalendar struct {
	W, H     string
	Weekdays []htmlTick
	Cells    []htmlCell
	// Later counts the findings whose next stage is after the last day,
	// LaterText says so.
	Later     int
	LaterText string
	Until     string
}

type htmlCell struct {
	X, Y, W, H, TextX, DayY, CountY string
	Date, Day, Level, Title         string
	// N counts the day's stage changes that are not exempt; Rows the
	// findings in the table (not exempt) whose next stage is that day,
	// which a click on the day filters to.
	N, Rows int
}

// newCalendar counts, for each of the UpcomingDays days from as_of's date
// on, the stage changes that are not exempt: the report's
// inventory.upcoming, which is the forecast over the scanned snapshots (new
// findings, further stages, ends of exemptions). A report without an
// inventory counts its findings' next stages instead. A click on a day with
// findings whose next stage it is filters the table to them.
func newCalendar(r *Report) *htmlCalendar {
	start, end := upcomingDays(r.AsOf)
	byDay := map[string][]string{}
	rows := map[string]int{}
	c := &htmlCalendar{Until: end.AddDate(0, 0, -1).Format(config.DateLayout)}
	if r.Inventory != nil {
		for i := range r.Inventory.Upcoming {
			e := &r.Inventory.Upcoming[i]
			if !e.Exempt && !e.On.Before(start) && e.On.Before(end) {
				byDay[e.On.String()] = append(byDay[e.On.String()], upcomingLabel(e))
			}
		}
	}
	for _, f := range r.Findings {
		if f.Exempt || f.NextStageOn == nil || f.NextStageOn.Before(start) {
			continue
		}
		date := f.NextStageOn.String()
		if !f.NextStageOn.Before(end) {
			c.Later++
			continue
		}
		rows[date]++
		if r.Inventory == nil {
			byDay[date] = append(byDay[date], cleanText(f.User)+" ("+f.Rule+")")
		}
	}
	if c.Later > 0 {
		c.LaterText = fmt.Sprintf("%d more findings reach their next stage after %s", c.Later, c.Until)
		if c.Later == 1 {
			c.LaterText = "1 more finding reaches its next stage after " + c.Until
		}
	}
	offset := (int(start.Weekday()) + 6) % 7 // Monday = 0
	for i, d := range []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"} {
		c.Weekdays = append(c.Weekdays, htmlTick{Pos: num(float64(i)*calCell + calCell/2), Label: d})
	}
	nrows := 0
	for i := range UpcomingDays {
		day := start.AddDate(0, 0, i)
		slot := offset + i
		x, y := float64(slot%7)*calCell, calTop+float64(slot/7)*calCellH
		nrows = slot/7 + 1
		date := day.Format(config.DateLayout)
		who := byDay[date]
		label := strconv.Itoa(day.Day())
		if i == 0 || day.Day() == 1 {
			label = day.Format("2 Jan")
		}
		title := date + ": no stage changes"
		if len(who) > 0 {
			list := who
			if len(list) > 8 {
				list = append(slices.Clone(list[:8]), fmt.Sprintf("and %d more", len(who)-8))
			}
			title = fmt.Sprintf("%s: %s: %s", date, plural(len(who), "stage change", "stage changes"), strings.Join(list, ", "))
		}
		c.Cells = append(c.Cells, htmlCell{
			X: num(x + 2), Y: num(y + 2), W: num(calCell - 4), H: num(calCellH - 4),
			TextX: num(x + 8), DayY: num(y + 18), CountY: num(y + 46),
			Date: date, Day: label, Level: calLevel(len(who)), Title: title, N: len(who), Rows: rows[date],
		})
	}
	c.W, c.H = num(7*calCell), num(calTop+float64(nrows)*calCellH)
	return c
}

// upcomingLabel names a stage change in a calendar day's title, e.g.
// "alice (access_key_age: disable)" or "bob (access_key_age: notify,
// starts)".
func upcomingLabel(e *forecast.Event) string {
	what := e.Rule + ": " + strings.ReplaceAll(e.Action, "_", " ")
	switch e.Change {
	case forecast.ChangeNew:
		what += ", starts"
	case forecast.ChangeExemptionEnds:
		what += ", exemption ends"
	case forecast.ChangeEnds:
		what += ", ends"
	}
	return cleanText(e.User) + " (" + what + ")"
}

// calLevel is a day's color class by its count.
func calLevel(n int) string {
	switch {
	case n == 0:
		return "l0"
	case n == 1:
		return "l1"
	case n < 5:
		return "l2"
	}
	return "l3"
}
