package run

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/plan"
	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/state/sqlite"
	"github.com/keywarden/keywarden/internal/testenv"
)

const dryConfig = `version: 1
notify:
  users: { email_tags: [Email], allowed_domains: [example.com], via: outbox }
  admins: { emails: [sec@example.com] }
  outbox: { dir: DIR/outbox }
enforce:
  mode: apply
  allowed_accounts: ["123456789012"]
  grace_after_disable: 14
  audit_file: DIR/audit.jsonl
`

// files is every file under dir, by path, with its bytes.
func files(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDryRunLeavesTheStateAlone: a dry run with enforcement on, over the
// SQLite state a real run left (notices, a disable, an inactive day, and
// an unfinished action of a run that died), re-checks in IAM, decides
// what a real run would do — and leaves IAM, the state file, the audit
// file and the outbox byte for byte as they were.
func TestDryRunLeavesTheStateAlone(t *testing.T) {
	m := testenv.Moto(t)
	user := func(name string, age int) testenv.SeedUser {
		return testenv.SeedUser{Name: name, Tags: map[string]string{"Email": name + "@example.com"},
			Keys: []testenv.SeedKey{{AgeDays: age, LastUsedDaysAgo: 1}}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1}
	}
	users := []testenv.SeedUser{user("alice", 85), user("bob", 75)}
	for i := range 8 {
		users = append(users, user(fmt.Sprintf("fresh%d", i), 5))
	}
	ids := m.Seed(t, users)
	dir := t.TempDir()
	cfg, err := config.Parse("k.yaml", []byte(strings.ReplaceAll(dryConfig, "DIR", dir)))
	if err != nil {
		t.Fatal(err)
	}
	p := m.NewProxy(t)
	url := "sqlite://" + filepath.Join(dir, "state.db")
	now := time.Now().UTC()
	// The runs are at the wall clock (now); the dry run evaluates and acts
	// six days later (a dry run may: it changes nothing).
	opts := func(asOf time.Time, dry bool) RunOptions {
		return RunOptions{Scan: ScanOptions{Config: cfg, AsOf: asOf, Now: now,
			LoadAWSConfig: func(context.Context) (aws.Config, error) { return p.Config(t, m), nil }},
			DryRun: dry, StateURL: url, RunID: map[bool]string{false: "real", true: "dry"}[dry]}
	}
	ctx := context.Background()

	// The real run disables alice's key and tells alice, bob and the admins.
	res, err := Run(ctx, opts(now, false))
	if err != nil || res.Err != nil || res.ActionsDone != 1 || res.Sent != 3 {
		t.Fatalf("real run: %v / %v; %d actions done, %d sent; want 1 and 3", err, res.Err, res.ActionsDone, res.Sent)
	}
	// A run that died after recording its plan to disable bob's key.
	store, err := sqlite.Open(ctx, filepath.Join(dir, "state.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.RecordAction(ctx, state.Action{ID: "dead.1", Run: "dead", Account: testenv.AccountID, User: "bob",
		Credential: "access_key", KeyID: ids["bob"][0], Kind: state.KindDisable, Status: state.ActionPlanned,
		Before: state.KeyActive, At: now.Add(-2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	store.Close()
	before := files(t, dir)
	p.Reset()

	// Six days on: bob's key reaches its disable stage; alice's inactive
	// key its delete stage, inside the grace period.
	res, err = Run(ctx, opts(now.AddDate(0, 0, 6), true))
	if err != nil || res.Err != nil {
		t.Fatalf("dry run: %v / %v", err, res.Err)
	}
	var got []string
	for _, a := range res.Plan.Actions {
		got = append(got, a.User+" "+a.Status+": "+a.Reason)
	}
	want := []string{
		"alice skipped: inactive since " + state.Day(now) + " (6 of the 14 days of enforce.grace_after_disable): it will be deleted on " + state.Day(now.AddDate(0, 0, 14)),
		"bob planned: " + DryRunPrefix + "disabled: the key reached its 80-day disable stage",
	}
	if !slices.Equal(got, want) || res.ActionsDone != 1 || res.ActionsSkipped != 1 {
		t.Errorf("dry run actions:\n%s\n(%d would be done, %d skipped)\nwant:\n%s", strings.Join(got, "\n"), res.ActionsDone, res.ActionsSkipped, strings.Join(want, "\n"))
	}
	for _, d := range res.Deliveries {
		if d.Status != DeliveryPlanned {
			t.Errorf("delivery %s to %v: %s; want planned", d.Kind, d.To, d.Status)
		}
	}
	if len(res.Deliveries) == 0 || res.Sent != 0 || res.Resolved != 0 {
		t.Errorf("dry run: %d deliveries, %d sent, %d resolved; want some planned, none sent or resolved", len(res.Deliveries), res.Sent, res.Resolved)
	}
	for _, op := range p.Ops() {
		if op.Service != "iam" && op.Service != "sts" || op.Service == "iam" && !slices.Contains(iamReadOps, op.Operation) {
			t.Errorf("a dry run called %s", op.Name())
		}
	}
	if p.Count("iam:GetAccessKeyLastUsed") == 0 {
		t.Error("the dry run did not re-check bob's key")
	}
	after := files(t, dir)
	for path, b := range before {
		if !bytes.Equal(after[path], b) {
			t.Errorf("%s changed in a dry run", path)
		}
	}
	for path := range after {
		if _, ok := before[path]; !ok && !strings.HasSuffix(path, "-shm") && !strings.HasSuffix(path, "-wal") {
			t.Errorf("a dry run wrote %s", path)
		}
	}
}

// iamReadOps are the IAM operations a scan and a re-check make.
var iamReadOps = []string{"GenerateCredentialReport", "GetCredentialReport", "GetAccountAuthorizationDetails",
	"GetAccountPasswordPolicy", "ListAccountAliases", "ListAccessKeys", "GetAccessKeyLastUsed", "GetUser", "GetLoginProfile",
	"GetAccountSummary", "ListServiceSpecificCredentials", "ListSigningCertificates", "ListSSHPublicKeys"}

// TestWouldDo: a dry run reports as planned only what it did against dryIAM.
func TestWouldDo(t *testing.T) {
	got := wouldDo([]plan.Action{
		{Status: plan.ActionDone, Done: "disable", Reason: "disabled", After: state.KeyInactive, DeleteOn: "2026-12-07"},
		{Status: plan.ActionSkipped, Reason: "the key is already inactive"},
		{Status: plan.ActionFailed, Reason: "AccessDenied"},
	})
	if a := got[0]; a.Status != plan.ActionPlanned || a.Reason != DryRunPrefix+"disabled" || a.After != "" || a.DeleteOn != "" || a.Done != "disable" {
		t.Errorf("done action as a dry run reports it: %+v", a)
	}
	if got[1].Status != plan.ActionSkipped || got[1].Reason != "the key is already inactive" || got[2].Status != plan.ActionFailed {
		t.Errorf("skipped and failed actions changed: %+v", got[1:])
	}
}

// TestUnopenableAuditFileChangesNothingAndSaysSo: an --apply run that
// cannot open enforce.audit_file changes nothing, and neither the owner
// nor the admins are told a key is (or is about to be) disabled.
func TestUnopenableAuditFileChangesNothingAndSaysSo(t *testing.T) {
	m := testenv.Moto(t)
	users := []testenv.SeedUser{{Name: "alice", Tags: map[string]string{"Email": "alice@example.com"},
		Keys: []testenv.SeedKey{{AgeDays: 85, LastUsedDaysAgo: 1}}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1}}
	for i := range 8 {
		users = append(users, testenv.SeedUser{Name: fmt.Sprintf("fresh%d", i), Keys: []testenv.SeedKey{{AgeDays: 5}},
			PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1})
	}
	ids := m.Seed(t, users)
	dir := t.TempDir()
	cfg, err := config.Parse("k.yaml", []byte(strings.ReplaceAll(strings.Replace(dryConfig, "DIR/audit.jsonl", "DIR/no-such-dir/audit.jsonl", 1), "DIR", dir)))
	if err != nil {
		t.Fatal(err)
	}
	p := m.NewProxy(t)
	now := time.Now().UTC()
	res, err := Run(context.Background(), RunOptions{Scan: ScanOptions{Config: cfg, AsOf: now, Now: now,
		LoadAWSConfig: func(context.Context) (aws.Config, error) { return p.Config(t, m), nil }},
		StateURL: "sqlite://" + filepath.Join(dir, "state.db")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Err == nil || !strings.Contains(res.Err.Error(), "open enforce.audit_file") || res.ActionsFailed != 1 {
		t.Errorf("run: error %v, %d actions failed; want the audit file's error and alice's action failed", res.Err, res.ActionsFailed)
	}
	if n := p.Count("iam:UpdateAccessKey"); n != 0 {
		t.Errorf("%d UpdateAccessKey calls; want none", n)
	}
	var told []string
	for _, msg := range res.Plan.Messages {
		for _, it := range msg.Items {
			if it.KeyID == ids["alice"][0] {
				told = append(told, it.Next)
			}
		}
	}
	want := "It is past the 80-day limit. keywarden tried to disable it on " + state.Day(now) +
		" and failed; the administrators are told, and the next run tries again."
	if len(told) != 1 || told[0] != want {
		t.Errorf("alice is told %q; want %q", told, want)
	}
	if d := res.Plan.Digests; len(d) != 1 || d[0].Count(plan.ActionFailed) != 1 || d[0].Count(plan.ActionPlanned) != 0 {
		t.Errorf("digests %+v; want one with alice's action failed", d)
	}
}

// TestDryIAMChangesNoCertificateOrServiceCredential: the dry run's client
// answers every write of the new credential kinds without making it.
func TestDryIAMChangesNoCertificateOrServiceCredential(t *testing.T) {
	m := testenv.Moto(t)
	m.Seed(t, []testenv.SeedUser{{Name: "alice", PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1}})
	ctx := context.Background()
	real := iam.NewFromConfig(m.Config(t))
	cert, err := real.UploadSigningCertificate(ctx, &iam.UploadSigningCertificateInput{UserName: aws.String("alice"),
		CertificateBody: aws.String(testenv.SelfSignedCertificate(t, "alice"))})
	if err != nil {
		t.Fatal(err)
	}
	cred, err := real.CreateServiceSpecificCredential(ctx, &iam.CreateServiceSpecificCredentialInput{UserName: aws.String("alice"),
		ServiceName: aws.String("codecommit.amazonaws.com")})
	if err != nil {
		t.Fatal(err)
	}
	certID, credID := cert.Certificate.CertificateId, cred.ServiceSpecificCredential.ServiceSpecificCredentialId
	dry := dryIAM{real}
	for _, err := range []error{
		ignore(dry.UpdateSigningCertificate(ctx, &iam.UpdateSigningCertificateInput{UserName: aws.String("alice"), CertificateId: certID, Status: types.StatusTypeInactive})),
		ignore(dry.DeleteSigningCertificate(ctx, &iam.DeleteSigningCertificateInput{UserName: aws.String("alice"), CertificateId: certID})),
		ignore(dry.UpdateServiceSpecificCredential(ctx, &iam.UpdateServiceSpecificCredentialInput{UserName: aws.String("alice"),
			ServiceSpecificCredentialId: credID, Status: types.StatusTypeInactive})),
		ignore(dry.DeleteServiceSpecificCredential(ctx, &iam.DeleteServiceSpecificCredentialInput{UserName: aws.String("alice"), ServiceSpecificCredentialId: credID})),
	} {
		if err != nil {
			t.Errorf("dry write: %v; want it to answer as a write that worked", err)
		}
	}
	certs, err := real.ListSigningCertificates(ctx, &iam.ListSigningCertificatesInput{UserName: aws.String("alice")})
	if err != nil || len(certs.Certificates) != 1 || certs.Certificates[0].Status != types.StatusTypeActive {
		t.Errorf("certificates after the dry writes: %+v, %v; want the one, still Active", certs, err)
	}
	creds, err := real.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{UserName: aws.String("alice")})
	if err != nil || len(creds.ServiceSpecificCredentials) != 1 || creds.ServiceSpecificCredentials[0].Status != types.StatusTypeActive {
		t.Errorf("service credentials after the dry writes: %+v, %v; want the one, still Active", creds, err)
	}
}

func ignore[T any](_ T, err error) error { return err }
