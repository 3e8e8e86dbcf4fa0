package inventory

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// CredentialReport is a parsed IAM credential report.
type CredentialReport struct {
	Users     []User // IAM users sorted by name, root excluded
	Root      *User  // the <root_account> row, nil when absent
	AccountID string // from the ARNs (arn:aws:iam::ACCOUNT:...), "" if none
	// Warnings are faults the parser tolerated: a row repeated identically.
	Warnings []*ParseError
}

// ParseError says where a credential report is malformed. Line 1 is the
// header; Column is the header name of the offending column, or empty when
// the fault is not in one column (a row with the wrong number of fields).
type ParseError struct {
	Line   int
	Column string
	Err    error
}

// Error reads "credential report line 7, column access_key_1_last_rotated: …".
func (e *ParseError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("credential report line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("credential report line %d, column %s: %v", e.Line, e.Column, e.Err)
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }

// Columns of the credential report, as AWS names them in the header.
const (
	colUser                 = "user"
	colARN                  = "arn"
	colUserCreationTime     = "user_creation_time"
	colPasswordEnabled      = "password_enabled"
	colPasswordLastUsed     = "password_last_used"
	colPasswordLastChanged  = "password_last_changed"
	colPasswordNextRotation = "password_next_rotation"
	colMFAActive            = "mfa_active"
)

// Signing certificate slot fields, suffixes of cert_N_.
const (
	certActive = iota
	certLastRotated
	numCertFields
)

// certColumns[n][field] names a column of signing certificate slot n (1
// or 2), e.g. certColumns[2][certLastRotated] = "cert_2_last_rotated".
var certColumns = func() (c [3][numCertFields]string) {
	for n := 1; n <= 2; n++ {
		c[n][certActive] = fmt.Sprintf("cert_%d_active", n)
		c[n][certLastRotated] = fmt.Sprintf("cert_%d_last_rotated", n)
	}
	return c
}()

// Access key slot fields, suffixes of access_key_N_.
const (
	keyActive = iota
	keyLastRotated
	keyLastUsedDate
	keyLastUsedRegion
	keyLastUsedService
	numKeyFields
)

// keyColumns[n][field] names a column of access key slot n (1 or 2), e.g.
// keyColumns[2][keyActive] = "access_key_2_active".
var keyColumns = func() (c [3][numKeyFields]string) {
	suffix := [numKeyFields]string{"active", "last_rotated", "last_used_date", "last_used_region", "last_used_service"}
	for n := 1; n <= 2; n++ {
		for f, s := range suffix {
			c[n][f] = fmt.Sprintf("access_key_%d_%s", n, s)
		}
	}
	return c
}()

// keyColumn names field f of access key slot n.
func keyColumn(n, f int) string { return keyColumns[n][f] }

// requiredColumns are the columns keywarden reads, in AWS's order: all 22
// of IAM's report, the four cert_* columns included (IAM writes them in
// every report), so that a trimmed report fails by name rather than hide
// a credential.
var requiredColumns = func() []string {
	cols := []string{
		colUser, colARN, colUserCreationTime,
		colPasswordEnabled, colPasswordLastUsed, colPasswordLastChanged, colPasswordNextRotation,
		colMFAActive,
	}
	for n := 1; n <= 2; n++ {
		cols = append(cols, keyColumns[n][:]...)
	}
	for n := 1; n <= 2; n++ {
		cols = append(cols, certColumns[n][:]...)
	}
	return cols
}()

// errEmptyReport is returned for an input without even a header.
var errEmptyReport = errors.New("empty credential report")

// MaxReportSize is the most of a credential report ParseCredentialReport
// reads: IAM's report of an account with 5,000 users (its quota) is a few
// MiB. A bigger input — a wrong file, or an endless one such as /dev/zero,
// which was read until memory ran out — is refused with ErrReportTooBig.
const MaxReportSize = 32 << 20

// ErrReportTooBig refuses a credential report of more than MaxReportSize
// bytes.
var ErrReportTooBig = fmt.Errorf("the credential report is larger than %d MiB, the most keywarden reads; "+
	"IAM's report of an account with 5,000 users is a few MiB (a wrong file, or an endless one such as /dev/zero?)", MaxReportSize>>20)

// boundedReader reads r, and fails with ErrReportTooBig once it has read
// more than a given number of bytes.
type boundedReader struct {
	r    io.Reader
	left int64 // the bytes still allowed, plus one
}

func newBoundedReader(r io.Reader, limit int64) *boundedReader {
	return &boundedReader{r: r, left: limit + 1}
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, ErrReportTooBig
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	if b.left -= int64(n); b.left <= 0 {
		return n, ErrReportTooBig
	}
	return n, err
}

// ParseCredentialReport reads an IAM credential report (the CSV that
// GetCredentialReport returns, or that the console downloads).
//
// Columns are found by header name, case-insensitively and in any order;
// unknown columns are ignored. In value columns, N/A, not_supported,
// no_information and empty values mean "none" (a zero time, an empty
// string, false); the user column is a name, taken exactly as written
// (not trimmed), and must be a legal IAM user name (see ValidUserName) or
// <root_account>: a user named no_information is a user. A row that repeats an earlier
// row exactly is skipped with a warning (Warnings); a user on two rows
// that differ is an error naming both lines. Timestamps are
// RFC 3339 and returned in UTC. A user's password dates are kept only when
// password_enabled is true; the root row counts as having a password
// unless it says false (AWS writes not_supported there for a root user
// with a password, false once its password is removed). Access key and
// signing certificate slots that are neither active nor dated hold
// nothing and are left out.
// Errors that point into the file are *ParseError. At most MaxReportSize
// bytes are read.
func ParseCredentialReport(r io.Reader) (*CredentialReport, error) {
	cr := csv.NewReader(newBoundedReader(r, MaxReportSize))
	cr.ReuseRecord = true

	header, err := cr.Read()
	if err == io.EOF {
		return nil, errEmptyReport
	}
	if err != nil {
		return nil, csvError(err, 0, 0)
	}
	headerLine, _ := cr.FieldPos(0)
	cols, err := locateColumns(header, headerLine)
	if err != nil {
		return nil, err
	}
	// The header's own field count is what every row must have.
	want := len(header)
	cr.FieldsPerRecord = want

	rep := &CredentialReport{}
	type seenRow struct {
		line int
		rec  []string
	}
	seen := map[string]seenRow{} // user name → its first row
	accountLine := 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(err, len(rec), want)
		}
		row := reportRow{rec: rec, cols: cols, cr: cr}
		u, account, err := row.user()
		if err != nil {
			return nil, err
		}
		line := row.line(0)
		if first, dup := seen[u.Name]; dup {
			if !slices.Equal(first.rec, rec) {
				return nil, &ParseError{Line: line, Column: colUser,
					Err: fmt.Errorf("user %q appears twice with different values (first on line %d)", u.Name, first.line)}
			}
			rep.Warnings = append(rep.Warnings, &ParseError{Line: line, Column: colUser,
				Err: fmt.Errorf("user %q appears twice, identically (first on line %d); the copy is ignored", u.Name, first.line)})
			continue
		}
		// The record's strings are fresh for each row (only the slice is
		// reused), so a copy of the slice keeps them.
		seen[u.Name] = seenRow{line, slices.Clone(rec)}
		switch {
		case rep.AccountID == "":
			rep.AccountID, accountLine = account, line
		case account != rep.AccountID:
			return nil, &ParseError{Line: row.line(cols[colARN]), Column: colARN,
				Err: fmt.Errorf("arn is in account %s but line %d's is in account %s: a credential report covers one account", account, accountLine, rep.AccountID)}
		}
		if u.IsRoot() {
			rep.Root = u
			continue
		}
		rep.Users = append(rep.Users, *u)
	}
	slices.SortFunc(rep.Users, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	return rep, nil
}

// locateColumns maps each header name (trimmed, lower-cased) to its index
// and checks that every required column is there. line is the header's
// line in the file (1 unless blank lines precede it).
func locateColumns(header []string, line int) (map[string]int, error) {
	cols := make(map[string]int, len(header))
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\uFEFF") // a byte order mark left by spreadsheet software
		}
		name := strings.ToLower(strings.TrimSpace(h))
		if name == "" {
			continue
		}
		if first, dup := cols[name]; dup {
			if slices.Contains(requiredColumns, name) {
				return nil, &ParseError{Line: line, Column: name,
					Err: fmt.Errorf("appears twice in the header (fields %d and %d)", first+1, i+1)}
			}
			continue // an unknown column: ignored anyway
		}
		cols[name] = i
	}
	var missing []string
	for _, c := range requiredColumns {
		if _, ok := cols[c]; !ok {
			missing = append(missing, c)
		}
	}
	const notReport = "this does not look like an IAM credential report (the CSV that IAM's GetCredentialReport returns)"
	switch {
	case len(missing) == 0:
		return cols, nil
	case len(missing) == len(requiredColumns):
		return nil, &ParseError{Line: line, Column: missing[0],
			Err: fmt.Errorf("missing from the header, as are all the other credential report columns: %s", notReport)}
	case len(missing) == 1:
		return nil, &ParseError{Line: line, Column: missing[0],
			Err: fmt.Errorf("missing from the header: %s", notReport)}
	default:
		return nil, &ParseError{Line: line, Column: missing[0],
			Err: fmt.Errorf("missing from the header (also missing: %s): %s", strings.Join(missing[1:], ", "), notReport)}
	}
}

// csvError turns an encoding/csv error into a *ParseError with its line.
// got is the row's field count and want the header's.
func csvError(err error, got, want int) error {
	var pe *csv.ParseError
	switch {
	case errors.Is(err, ErrReportTooBig):
		return err
	case !errors.As(err, &pe):
		return fmt.Errorf("read credential report: %w", err)
	}
	if errors.Is(pe.Err, csv.ErrFieldCount) {
		return &ParseError{Line: pe.StartLine,
			Err: fmt.Errorf("%w: the row has %d, the header %d (truncated or hand-edited file?)", pe.Err, got, want)}
	}
	return &ParseError{Line: pe.Line, Err: fmt.Errorf("malformed CSV at character %d: %w", pe.Column, pe.Err)}
}

// reportRow is one data row of the report being parsed.
type reportRow struct {
	rec  []string
	cols map[string]int
	cr   *csv.Reader // positioned on this row
}

// line is the file line that field i of the row starts on.
func (r reportRow) line(i int) int {
	l, _ := r.cr.FieldPos(i)
	return l
}

// user parses the row into a User and returns the account ID of its ARN.
func (r reportRow) user() (*User, string, error) {
	// The name is data: "no value" markers are legal names.
	u := &User{Name: r.rec[r.cols[colUser]], ARN: r.value(colARN)}
	switch {
	case u.Name == "":
		return nil, "", r.errorf(colUser, "empty user name")
	case u.Name != RootUserName && !ValidUserName(u.Name):
		return nil, "", r.errorf(colUser, "%q is not an IAM user name (1 to %d of A-Z a-z 0-9 and _+=,.@-)", u.Name, MaxUserNameLen)
	}
	account, path, err := parseIAMARN(u.ARN, u.Name)
	if err != nil {
		return nil, "", r.errorf(colARN, "%v", err)
	}
	u.Path = path
	if u.CreatedAt, err = r.time(colUserCreationTime); err != nil {
		return nil, "", err
	}

	if u.PasswordEnabled, err = r.bool(colPasswordEnabled); err != nil {
		return nil, "", err
	}
	if u.IsRoot() && r.value(colPasswordEnabled) == "" {
		// AWS writes not_supported here for a root user with a password;
		// an explicit false is a root whose password was removed (as
		// Organizations' centralized root access does).
		u.PasswordEnabled = true
	}
	if u.PasswordLastUsed, err = r.time(colPasswordLastUsed); err != nil {
		return nil, "", err
	}
	if u.PasswordLastChanged, err = r.time(colPasswordLastChanged); err != nil {
		return nil, "", err
	}
	if u.PasswordNextRotation, err = r.time(colPasswordNextRotation); err != nil {
		return nil, "", err
	}
	if !u.PasswordEnabled {
		// Emulators and old reports fill these for users without a
		// password; they describe no password that exists now.
		u.PasswordLastUsed, u.PasswordLastChanged, u.PasswordNextRotation = time.Time{}, time.Time{}, time.Time{}
	}
	if u.MFAActive, err = r.bool(colMFAActive); err != nil {
		return nil, "", err
	}

	for slot := 1; slot <= 2; slot++ {
		k, ok, err := r.accessKey(slot)
		if err != nil {
			return nil, "", err
		}
		if ok {
			u.AccessKeys = append(u.AccessKeys, k)
		}
	}
	for slot := 1; slot <= 2; slot++ {
		c, ok, err := r.signingCert(slot)
		if err != nil {
			return nil, "", err
		}
		if ok {
			u.SigningCerts = append(u.SigningCerts, c)
		}
	}
	return u, account, nil
}

// signingCert parses certificate slot n; ok is false when the slot holds
// no certificate (neither active nor dated), as for access keys.
func (r reportRow) signingCert(n int) (c SigningCert, ok bool, err error) {
	c.Slot = n
	if c.Active, err = r.bool(certColumns[n][certActive]); err != nil {
		return c, false, err
	}
	if c.CreatedAt, err = r.time(certColumns[n][certLastRotated]); err != nil {
		return c, false, err
	}
	if !c.Active && c.CreatedAt.IsZero() {
		return SigningCert{}, false, nil
	}
	return c, true, nil
}

// accessKey parses slot n; ok is false when the slot holds no key.
func (r reportRow) accessKey(n int) (k AccessKey, ok bool, err error) {
	k.Slot = n
	if k.Active, err = r.bool(keyColumn(n, keyActive)); err != nil {
		return k, false, err
	}
	if k.CreatedAt, err = r.time(keyColumn(n, keyLastRotated)); err != nil {
		return k, false, err
	}
	if !k.Active && k.CreatedAt.IsZero() {
		return AccessKey{}, false, nil
	}
	if k.LastUsedAt, err = r.time(keyColumn(n, keyLastUsedDate)); err != nil {
		return k, false, err
	}
	k.LastUsedRegion = r.value(keyColumn(n, keyLastUsedRegion))
	k.LastUsedService = r.value(keyColumn(n, keyLastUsedService))
	return k, true, nil
}

// MaxUserNameLen is the longest IAM user name: CreateUser takes 64
// characters, but users created before that limit may have up to 128
// (IAM's existingUserNameType), and they are in the report too.
const MaxUserNameLen = 128

// ValidUserName reports whether name is a legal IAM user name: 1 to
// MaxUserNameLen of the ASCII letters, digits and _+=,.@- (IAM's pattern
// [\w+=,.@-]+, where \w is ASCII only).
func ValidUserName(name string) bool {
	if name == "" || len(name) > MaxUserNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("_+=,.@-", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// value is a value column's trimmed value, "" for N/A and the like.
func (r reportRow) value(col string) string {
	v := strings.TrimSpace(r.rec[r.cols[col]])
	if isNone(v) {
		return ""
	}
	return v
}

// isNone reports whether v is one of the report's "no value" markers.
func isNone(v string) bool {
	switch strings.ToLower(v) {
	case "", "n/a", "not_supported", "no_information":
		return true
	}
	return false
}

// bool parses true/false in any case; "no value" markers are false.
func (r reportRow) bool(col string) (bool, error) {
	v := r.value(col)
	switch {
	case v == "":
		return false, nil
	case strings.EqualFold(v, "true"):
		return true, nil
	case strings.EqualFold(v, "false"):
		return false, nil
	}
	return false, r.errorf(col, "%q is not a boolean (want true or false)", v)
}

// time parses an RFC 3339 timestamp into UTC; "no value" markers are zero.
func (r reportRow) time(col string) (time.Time, error) {
	v := r.value(col)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, r.errorf(col, "%q is not a timestamp (want RFC 3339, like 2026-08-15T19:04:50+00:00)", v)
	}
	return t.UTC(), nil
}

func (r reportRow) errorf(col, format string, args ...any) error {
	return &ParseError{Line: r.line(r.cols[col]), Column: col, Err: fmt.Errorf(format, args...)}
}

// parseIAMARN checks that arn is an IAM ARN (arn:PARTITION:iam::ACCOUNT:
// RESOURCE) and returns its account and, for a user, the user's path: the
// part of "user/division/alice" between "user" and the name ("/division/").
// The path is "/" when the ARN does not show one.
func parseIAMARN(arn, name string) (account, path string, err error) {
	if arn == "" {
		return "", "", errors.New("empty arn")
	}
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" || parts[4] == "" {
		return "", "", fmt.Errorf("%q is not an IAM ARN (want arn:aws:iam::ACCOUNT:user/NAME)", arn)
	}
	account, resource := parts[4], parts[5]
	path = "/"
	if p, ok := strings.CutPrefix(resource, "user/"); ok {
		if dir, ok := strings.CutSuffix(p, "/"+name); ok {
			path = "/" + dir + "/"
		}
	}
	return account, path, nil
}
