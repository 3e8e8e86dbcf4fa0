package notify

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	texttemplate "text/template"
	"time"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
)

//go:embed templates/*.tmpl
var embedded embed.FS

// The six templates, by their notify.templates key.
const (
	TplUserSubject   = "user_subject"
	TplUserText      = "user_text"
	TplUserHTML      = "user_html"
	TplDigestSubject = "digest_subject"
	TplDigestText    = "digest_text"
	TplDigestHTML    = "digest_html"
)

// templateKeys lists the templates with their embedded default file.
var templateKeys = []struct{ key, file string }{
	{TplUserSubject, "user_subject.tmpl"},
	{TplUserText, "user.txt.tmpl"},
	{TplUserHTML, "user.html.tmpl"},
	{TplDigestSubject, "digest_subject.tmpl"},
	{TplDigestText, "digest.txt.tmpl"},
	{TplDigestHTML, "digest.html.tmpl"},
}

// TemplateError is a template that could not be read, parsed or rendered.
type TemplateError struct {
	// Key is the config key naming the template, e.g.
	// notify.templates.user_html.
	Key string
	// File is the template file ("" for an embedded default).
	File string
	Err  error
}

func (e *TemplateError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("%s (built-in): %v", e.Key, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Key, e.Err)
}

func (e *TemplateError) Unwrap() error { return e.Err }

// Templates are the six parsed templates.
type Templates struct {
	text  map[string]*texttemplate.Template
	html  map[string]*htmltemplate.Template
	files map[string]string // key → file, "" for embedded
}

// UserData is what the owner templates see: the plan's message (To, Items,
// Notices, Reminder) and the run's Day, Mode and From; Subject is set for
// the body templates.
type UserData struct {
	plan.Message
	Day     string
	Mode    plan.Mode
	From    string
	Subject string
	// Sections are the items by urgency (plan.Sections): what keywarden
	// changed first, then by severity, the nearest deadline first.
	Sections []plan.Section
	// ChangedOn is the last day keywarden changed one of the credentials
	// ("": none); Deadline the nearest day by which the owner should act
	// ("": none); Now is true when that day is today (a limit is passed).
	ChangedOn string
	Deadline  string
	Now       bool
}

// DigestData is what the digest templates see: the plan's digest, Due (how
// many findings are new or due for a reminder) and From; Subject is set
// for the body templates.
type DigestData struct {
	plan.Digest
	Due     int
	From    string
	Subject string
	// Limit is how many entries each section lists (the digest's
	// MaxItems, default 20).
	Limit int
	// Deadline is the nearest day ahead on which a finding reaches its
	// next stage ("": none).
	Deadline string
	// PastLimit counts the findings already past a limit (a deadline on
	// or before the run's day): what needs action now.
	PastLimit int
	// Sections are the most urgent findings (plan.Sections), Limit in all;
	// MoreFindings counts the others.
	Sections     []plan.Section
	MoreFindings int
	// NeedsYou counts what needs an admin: guards, accounts not scanned,
	// failed changes, owners keywarden cannot mail, users a tag relaxed.
	NeedsYou       int
	FailedAccounts []plan.AccountSummary
	Failed         []plan.Action
	// Severities count the findings by severity, critical first.
	Severities []SeverityCount
	// CSVName is the attached CSV's name when a section was cut ("": none
	// was, nothing is attached).
	CSVName string
}

var funcs = map[string]any{
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	},
	"join":      strings.Join,
	"top":       top,
	"more":      more,
	"step":      stepHTML,
	"stepText":  stepText,
	"breakable": breakable,
	"sevColor":  severityColor,
	"add":       func(a, b int) int { return a + b },
	"modeText": func(m plan.Mode) string {
		switch m {
		case plan.ModeDryRun:
			return "dry run: nothing was sent or changed"
		case plan.ModeApply:
			return "apply: notifications sent; remediation where enforcement is on"
		}
		return "notifications sent; remediation is only listed"
	},
}

// DefaultTemplates returns the embedded templates.
func DefaultTemplates() *Templates {
	t, err := LoadTemplates(config.NotifyTemplates{}, "")
	if err != nil {
		panic("embedded templates: " + err.Error()) // tested
	}
	return t
}

// LoadTemplates parses the templates, reading the files that cfg names
// (relative to baseDir) and the embedded defaults for the others. Every
// problem is returned, joined; each is a *TemplateError naming the config
// key and the file, with text/template's "template: FILE:LINE: …" message.
func LoadTemplates(cfg config.NotifyTemplates, baseDir string) (*Templates, error) {
	named := map[string]string{
		TplUserSubject: cfg.UserSubject, TplUserText: cfg.UserText, TplUserHTML: cfg.UserHTML,
		TplDigestSubject: cfg.DigestSubject, TplDigestText: cfg.DigestText, TplDigestHTML: cfg.DigestHTML,
	}
	t := &Templates{text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}, files: map[string]string{}}
	var errs []error
	for _, k := range templateKeys {
		file := named[k.key]
		var src []byte
		var err error
		name := k.file
		if file == "" {
			src, err = embedded.ReadFile("templates/" + k.file)
		} else {
			name = file
			path := file
			if !filepath.IsAbs(path) && baseDir != "" {
				path = filepath.Join(baseDir, path)
			}
			src, err = readTemplate(path)
			if err != nil {
				err = fmt.Errorf("read template: %w", err)
			}
		}
		t.files[k.key] = file
		if err != nil {
			errs = append(errs, &TemplateError{Key: "notify.templates." + k.key, File: file, Err: err})
			continue
		}
		if strings.HasSuffix(k.key, "_html") {
			tpl, err := htmltemplate.New(name).Funcs(funcs).Option("missingkey=error").Parse(string(src))
			if err != nil {
				errs = append(errs, &TemplateError{Key: "notify.templates." + k.key, File: file, Err: err})
				continue
			}
			t.html[k.key] = tpl
			continue
		}
		tpl, err := texttemplate.New(name).Funcs(funcs).Option("missingkey=error").Parse(string(src))
		if err != nil {
			errs = append(errs, &TemplateError{Key: "notify.templates." + k.key, File: file, Err: err})
			continue
		}
		t.text[k.key] = tpl
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

// MaxTemplateSize is the most of a template file keywarden reads: 256 KiB.
const MaxTemplateSize = 256 << 10

// readTemplate reads the template file at path, which must be a regular
// file (not /dev/zero, a FIFO or a directory) of at most MaxTemplateSize
// bytes. It is opened without blocking (opening a FIFO would wait for a
// writer), checked on the open file, and read with a limit, since it may
// grow in between.
func readTemplate(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	src, err := io.ReadAll(io.LimitReader(f, MaxTemplateSize+1))
	if err != nil {
		return nil, err
	}
	if len(src) > MaxTemplateSize {
		return nil, fmt.Errorf("%s is larger than 256 KiB (%d bytes), the most keywarden reads of a template", path, MaxTemplateSize)
	}
	return src, nil
}

func (t *Templates) exec(key string, data any) (string, error) {
	var b bytes.Buffer
	var err error
	if tpl, ok := t.html[key]; ok {
		err = tpl.Execute(&b, data)
	} else {
		err = t.text[key].Execute(&b, data)
	}
	if err != nil {
		return "", &TemplateError{Key: "notify.templates." + key, File: t.files[key], Err: err}
	}
	return b.String(), nil
}

// User renders an owner message.
func (t *Templates) User(m *plan.Message, p *plan.Plan, from, id string, date time.Time) (*Message, error) {
	d := UserData{Message: *m, Day: p.Day, Mode: p.Mode, From: from}
	userView(&d)
	subject, err := t.exec(TplUserSubject, d)
	if err != nil {
		return nil, err
	}
	d.Subject = HeaderText(subject)
	text, err := t.exec(TplUserText, d)
	if err != nil {
		return nil, err
	}
	html, err := t.exec(TplUserHTML, d)
	if err != nil {
		return nil, err
	}
	return &Message{Kind: KindUser, ID: id, From: from, To: []string{m.To}, Subject: d.Subject, Text: text, HTML: html,
		Date: date, User: m}, nil
}

// Digest renders an admin digest.
func (t *Templates) Digest(dg *plan.Digest, from, id string, date time.Time) (*Message, error) {
	d := DigestData{Digest: *dg, From: from}
	for _, it := range dg.Findings {
		if it.Status != "not_due" {
			d.Due++
		}
	}
	digestView(&d)
	subject, err := t.exec(TplDigestSubject, d)
	if err != nil {
		return nil, err
	}
	d.Subject = HeaderText(subject)
	text, err := t.exec(TplDigestText, d)
	if err != nil {
		return nil, err
	}
	html, err := t.exec(TplDigestHTML, d)
	if err != nil {
		return nil, err
	}
	m := &Message{Kind: KindDigest, ID: id, From: from, To: dg.To, Subject: d.Subject, Text: text, HTML: html,
		Date: date, Digest: dg}
	if d.CSVName != "" {
		m.Attachments = []Attachment{{Name: d.CSVName, Type: "text/csv; charset=utf-8", Data: DigestCSV(dg)}}
	}
	return m, nil
}

// Check renders every template against sample data (an owner message, a
// digest with findings, a compliant digest), so a template that fails on
// real data fails here first.
func (t *Templates) Check() error {
	msg, p, digests := Sample()
	var errs []error
	if _, err := t.User(msg, p, "keywarden@example.com", "check-user", p.AsOf); err != nil {
		errs = append(errs, err)
	}
	for i := range digests {
		if _, err := t.Digest(&digests[i], "keywarden@example.com", "check-digest", p.AsOf); err != nil {
			errs = append(errs, err)
			break
		}
	}
	return errors.Join(errs...)
}

// CheckTemplates loads and checks the templates that cfg names.
func CheckTemplates(cfg config.NotifyTemplates, baseDir string) error {
	t, err := LoadTemplates(cfg, baseDir)
	if err != nil {
		return err
	}
	return t.Check()
}
