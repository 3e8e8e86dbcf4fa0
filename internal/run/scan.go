package run

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/report"
)

// ScanOptions configure one scan.
type ScanOptions struct {
	Config *config.Config
	// AsOf is the moment the policy is evaluated at.
	AsOf time.Time
	// Now is the wall-clock time the report is generated at.
	Now time.Time
	// CredentialReport, when set, is a downloaded credential report (CSV)
	// evaluated offline: no AWS call is made.
	CredentialReport string
	// Accounts, when not empty, limits the scan to these account IDs.
	Accounts []string
	// LoadAWSConfig loads the SDK configuration of the caller (live scans).
	LoadAWSConfig func(ctx context.Context) (aws.Config, error)
	Logger        *slog.Logger
	// OnSnapshots, when set, receives the snapshots the report was
	// evaluated from (key IDs resolved where the scan resolved them), once,
	// before Scan returns: `keywarden forecast` steps them through time.
	OnSnapshots func([]*inventory.Snapshot)
	// OnAccount, when set, is called once for every account scanned
	// without error, with the AWS configuration that scanned it (the
	// account's credentials — assumed-role ones for a member account — and
	// its call counter attached), so that later stages (remediation) act in
	// that account as the scan did. It is never called for a failed
	// account. Scan calls it after every account is done, from its own
	// goroutine, in account ID order: never concurrently.
	OnAccount func(accountID string, cfg aws.Config)
	// Progress, when set, is told how a live scan advances (the CLI draws
	// a progress bar on a terminal).
	Progress Progress
}

// ParseTime reads a time as keywarden's inputs write one (--as-of,
// --since, the Lambda event's as_of): RFC 3339, used as given (in UTC), or
// a date, meaning midnight UTC.
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(config.DateLayout, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q: want RFC 3339 (2026-11-23T09:00:00Z) or a date (2026-11-23)", s)
}

// ErrAccountNotSelected is returned when --account excludes every account
// that could be scanned.
var ErrAccountNotSelected = errors.New("no account to scan")

// Scan runs inventory and evaluation and returns the report. It has no side
// effects besides reading AWS (or the offline report file).
func Scan(ctx context.Context, o ScanOptions) (*report.Report, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.CredentialReport != "" {
		return scanOffline(o)
	}
	return scanLive(ctx, o)
}

func scanOffline(o ScanOptions) (*report.Report, error) {
	f, err := os.Open(o.CredentialReport)
	if err != nil {
		return nil, fmt.Errorf("read credential report: %w", err)
	}
	defer f.Close()
	cr, err := inventory.ParseCredentialReport(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.CredentialReport, err)
	}
	for _, w := range cr.Warnings {
		o.Logger.Warn(o.CredentialReport + ": " + w.Error())
	}
	snap := &inventory.Snapshot{
		AccountID: cr.AccountID,
		Users:     cr.Users,
		Root:      cr.Root,
		// The report does not carry the account's password policy, so
		// evaluation falls back to password_expiry.max_age.
		PasswordPolicyKnown: false,
	}
	if err := checkSelected(snap.AccountID, o.Accounts); err != nil {
		return nil, err
	}
	o.Logger.Info("evaluating offline credential report", "file", o.CredentialReport,
		"account", snap.AccountID, "users", len(snap.Users))
	findings := policy.Evaluate(snap, o.Config, o.AsOf)
	return finish(report.New(o.Now, o.AsOf, []report.Account{accountSummary(snap, 0)}, findings), o, snap), nil
}

func checkSelected(account string, selected []string) error {
	if len(selected) == 0 || slices.Contains(selected, account) {
		return nil
	}
	return fmt.Errorf("%w: the credentials belong to account %s, which --account does not select (%v)",
		ErrAccountNotSelected, account, selected)
}

// usersWithFindings lists, once each, the IAM users that have a finding
// about a credential of this kind: only their IDs are looked up.
func usersWithFindings(fs []policy.Finding, credential string) []string {
	var users []string
	seen := map[string]bool{}
	for _, f := range fs {
		if f.Credential == credential && !seen[f.User] {
			seen[f.User] = true
			users = append(users, f.User)
		}
	}
	return users
}

// fillKeyIDs copies resolved access key and signing certificate IDs from
// the snapshot into the findings, by user and slot.
func fillKeyIDs(fs []policy.Finding, snap *inventory.Snapshot) {
	type slot struct {
		user, credential string
		n                int
	}
	ids := map[slot]string{}
	for _, u := range snap.Users {
		for _, k := range u.AccessKeys {
			ids[slot{u.Name, policy.CredentialAccessKey, k.Slot}] = k.ID
		}
		for _, c := range u.SigningCerts {
			ids[slot{u.Name, policy.CredentialSigningCert, c.Slot}] = c.ID
		}
	}
	for i := range fs {
		if id, ok := ids[slot{fs[i].User, fs[i].Credential, fs[i].Slot}]; ok {
			fs[i].KeyID = id
		}
	}
}

func accountSummary(snap *inventory.Snapshot, calls int) report.Account {
	keys := 0
	for _, u := range snap.Users {
		keys += len(u.AccessKeys)
	}
	return report.Account{
		ID:         snap.AccountID,
		Alias:      snap.AccountAlias,
		Status:     report.StatusOK,
		Users:      len(snap.Users),
		AccessKeys: keys,
		APICalls:   calls,
		// The opt-in SSH rule's cost, shown apart: it grows with the users
		// it selects.
		SSHKeyCalls: snap.SSHKeyCalls,
	}
}

// finish completes a report with what needs the snapshots, not only the
// findings: the inventory the HTML report's charts draw (ages of every
// active key, stage thresholds), and the snapshots for OnSnapshots. Call it
// once with every account's snapshot.
func finish(rep *report.Report, o ScanOptions, snaps ...*inventory.Snapshot) *report.Report {
	rep.Inventory = report.NewInventory(o.Config, o.AsOf, snaps...)
	rep.Compliance = report.Compliance(rep, o.Config, report.UnreadInputs(snaps...))
	if o.OnSnapshots != nil {
		o.OnSnapshots(snaps)
	}
	return rep
}
