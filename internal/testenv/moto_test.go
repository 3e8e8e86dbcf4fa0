package testenv

import (
	"context"
	"encoding/csv"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// daysSince is the whole days from t to now.
func daysSince(t time.Time) int { return int(time.Since(t) / (24 * time.Hour)) }

func TestSetClockBackdatesAccessKey(t *testing.T) {
	m := Moto(t)
	ctx := context.Background()
	client := iam.NewFromConfig(m.Config(t))
	if _, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("old")}); err != nil {
		t.Fatal(err)
	}
	m.SetClock(t, "-100d")
	if _, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("old")}); err != nil {
		t.Fatal(err)
	}
	m.SetClock(t, "+0")
	if _, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("old")}); err != nil {
		t.Fatal(err)
	}

	out, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("old")})
	if err != nil {
		t.Fatal(err)
	}
	var ages []int
	for _, k := range out.AccessKeyMetadata {
		ages = append(ages, daysSince(aws.ToTime(k.CreateDate)))
	}
	slices.Sort(ages)
	// A day boundary may pass between creating and reading.
	if len(ages) != 2 || ages[0] > 1 || ages[1] < 99 || ages[1] > 101 {
		t.Errorf("ages of keys created at +0 and -100d = %v days; want [0 100]", ages)
	}
}

func TestMotoResetsBetweenTests(t *testing.T) {
	for i := range 2 {
		m := Moto(t)
		client := iam.NewFromConfig(m.Config(t))
		out, err := client.ListUsers(context.Background(), &iam.ListUsersInput{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Users) != 0 {
			t.Fatalf("round %d: ListUsers after Moto = %d users; want 0 (reset)", i, len(out.Users))
		}
		m.SetClock(t, "-10d")
		if _, err := client.CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String("u")}); err != nil {
			t.Fatal(err)
		}
	}
	// The second Moto call put the clock back at +0.
	m := Moto(t)
	client := iam.NewFromConfig(m.Config(t))
	out, err := client.CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String("now")})
	if err != nil {
		t.Fatal(err)
	}
	if d := daysSince(aws.ToTime(out.User.CreateDate)); d != 0 {
		t.Errorf("user created after Moto is %d days old; want 0 (clock reset to +0)", d)
	}
}

func TestSeed(t *testing.T) {
	m := Moto(t)
	ctx := context.Background()
	users := []SeedUser{
		{
			Name: "alice", Path: "/people/", Tags: map[string]string{"Email": "alice@example.com"}, Groups: []string{"devs", "admins"},
			Keys:            []SeedKey{{AgeDays: 30, LastUsedDaysAgo: 2}, {AgeDays: 120, LastUsedDaysAgo: -1, Inactive: true}},
			PasswordAgeDays: 200, PasswordLastUsedDaysAgo: 10, MFA: true,
		},
		{
			Name: "ci-bot", Tags: map[string]string{"UserType": "machine"}, Groups: []string{"devs"},
			Keys:            []SeedKey{{AgeDays: 95, LastUsedDaysAgo: 95}},
			PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1, CreatedDaysAgo: 300,
		},
		{Name: "newbie", PasswordAgeDays: 0, PasswordLastUsedDaysAgo: -1},
	}
	ids := m.Seed(t, users)

	client := iam.NewFromConfig(m.Config(t))
	for _, u := range users {
		if len(ids[u.Name]) != len(u.Keys) {
			t.Fatalf("Seed returned %d key IDs for %s; want %d", len(ids[u.Name]), u.Name, len(u.Keys))
		}
		listed, err := client.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String(u.Name)})
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range u.Keys {
			id := ids[u.Name][i]
			j := slices.IndexFunc(listed.AccessKeyMetadata, func(k types.AccessKeyMetadata) bool { return aws.ToString(k.AccessKeyId) == id })
			if j < 0 {
				t.Fatalf("key %d of %s (%s) not listed by ListAccessKeys", i+1, u.Name, id)
			}
			k := listed.AccessKeyMetadata[j]
			if got := daysSince(aws.ToTime(k.CreateDate)); got != want.AgeDays {
				t.Errorf("%s key %d: %d days old; want %d", u.Name, i+1, got, want.AgeDays)
			}
			wantStatus := types.StatusTypeActive
			if want.Inactive {
				wantStatus = types.StatusTypeInactive
			}
			if k.Status != wantStatus {
				t.Errorf("%s key %d: status %s; want %s", u.Name, i+1, k.Status, wantStatus)
			}
			used, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(id)})
			if err != nil {
				t.Fatal(err)
			}
			lastUsed := used.AccessKeyLastUsed.LastUsedDate
			switch {
			case want.LastUsedDaysAgo < 0 && lastUsed != nil:
				t.Errorf("%s key %d: last used %v; want never", u.Name, i+1, *lastUsed)
			case want.LastUsedDaysAgo >= 0 && lastUsed == nil:
				t.Errorf("%s key %d: never used; want %d days ago", u.Name, i+1, want.LastUsedDaysAgo)
			case want.LastUsedDaysAgo >= 0 && daysSince(*lastUsed) != want.LastUsedDaysAgo:
				t.Errorf("%s key %d: last used %d days ago; want %d", u.Name, i+1, daysSince(*lastUsed), want.LastUsedDaysAgo)
			}
		}
	}

	// Tags, groups and path, as GetAccountAuthorizationDetails shows them.
	gaad, err := client.GetAccountAuthorizationDetails(ctx, &iam.GetAccountAuthorizationDetailsInput{Filter: []types.EntityType{types.EntityTypeUser}})
	if err != nil {
		t.Fatal(err)
	}
	details := map[string]types.UserDetail{}
	for _, d := range gaad.UserDetailList {
		details[aws.ToString(d.UserName)] = d
	}
	alice := details["alice"]
	if aws.ToString(alice.Path) != "/people/" {
		t.Errorf("alice's path = %q; want /people/", aws.ToString(alice.Path))
	}
	if g := slices.Sorted(slices.Values(alice.GroupList)); !slices.Equal(g, []string{"admins", "devs"}) {
		t.Errorf("alice's groups = %v; want [admins devs]", g)
	}
	if len(alice.Tags) != 1 || aws.ToString(alice.Tags[0].Key) != "Email" || aws.ToString(alice.Tags[0].Value) != "alice@example.com" {
		t.Errorf("alice's tags = %v; want Email=alice@example.com", alice.Tags)
	}
	if d := daysSince(aws.ToTime(details["ci-bot"].CreateDate)); d != 300 {
		t.Errorf("ci-bot created %d days ago; want 300", d)
	}

	// Password dates and MFA, as the credential report shows them.
	rows := credentialReport(t, client)
	a := rows["alice"]
	if a["password_enabled"] != "true" || a["mfa_active"] != "true" {
		t.Errorf("alice: password_enabled=%s mfa_active=%s; want true true", a["password_enabled"], a["mfa_active"])
	}
	for col, want := range map[string]int{"password_last_changed": 200, "password_last_used": 10, "access_key_1_last_rotated": 120, "access_key_2_last_rotated": 30} {
		ts, err := time.Parse(time.RFC3339, a[col])
		if err != nil {
			t.Errorf("alice's %s = %q: %v", col, a[col], err)
			continue
		}
		if got := daysSince(ts); got != want {
			t.Errorf("alice's %s is %d days ago; want %d", col, got, want)
		}
	}
	if got := rows["newbie"]["password_last_used"]; got != "no_information" {
		t.Errorf("newbie's password_last_used = %q; want no_information (never used)", got)
	}
	if got := rows["ci-bot"]["password_enabled"]; got != "false" {
		t.Errorf("ci-bot's password_enabled = %q; want false", got)
	}
}

// credentialReport returns moto's report rows by user name and column.
func credentialReport(t *testing.T, client *iam.Client) map[string]map[string]string {
	t.Helper()
	ctx := context.Background()
	if _, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{}); err != nil {
		t.Fatal(err)
	}
	out, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(string(out.Content))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]map[string]string{}
	for _, r := range recs[1:] {
		row := map[string]string{}
		for i, col := range recs[0] {
			row[col] = r[i]
		}
		rows[r[0]] = row
	}
	return rows
}

func TestConfigWithKeyMarksKeyUsed(t *testing.T) {
	m := Moto(t)
	ctx := context.Background()
	client := iam.NewFromConfig(m.Config(t))
	if _, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("signer")}); err != nil {
		t.Fatal(err)
	}
	key, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("signer")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(key.AccessKey.AccessKeyId)
	me, err := sts.NewFromConfig(m.ConfigWithKey(t, id, aws.ToString(key.AccessKey.SecretAccessKey))).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := aws.ToString(me.Arn), "arn:aws:iam::"+AccountID+":user/signer"; got != want {
		t.Errorf("GetCallerIdentity with signer's key: ARN %s; want %s", got, want)
	}
	used, err := client.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if used.AccessKeyLastUsed.LastUsedDate == nil {
		t.Errorf("GetAccessKeyLastUsed(%s) after signing with it: never used; want used", id)
	}
}

func TestEnv(t *testing.T) {
	m := &MotoServer{URL: "http://127.0.0.1:5"}
	env := map[string]string{}
	for _, kv := range m.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, want := range map[string]string{
		"AWS_ENDPOINT_URL":            "http://127.0.0.1:5",
		"AWS_ACCESS_KEY_ID":           "testing",
		"AWS_SECRET_ACCESS_KEY":       "testing",
		"AWS_REGION":                  "us-east-1",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_PROFILE":                 "",
	} {
		if got, ok := env[k]; !ok || got != want {
			t.Errorf("Env()[%s] = %q (set: %v); want %q", k, got, ok, want)
		}
	}
}

func TestSetClockRejectsBadOffset(t *testing.T) {
	m := &MotoServer{clockFile: t.TempDir() + "/clock"}
	for _, bad := range []string{"", "100d", "yesterday"} {
		if err := m.writeClock(bad); err == nil {
			t.Errorf("writeClock(%q) = nil; want an error", bad)
		}
	}
	if err := m.writeClock("-3d"); err != nil {
		t.Fatalf("writeClock(-3d) = %v", err)
	}
	if b, _ := os.ReadFile(m.clockFile); string(b) != "-3d\n" {
		t.Errorf("clock file after writeClock(-3d) = %q; want \"-3d\\n\"", b)
	}
}

func TestSeedEvents(t *testing.T) {
	ev, err := seedEvents([]SeedUser{
		{Name: "a", PasswordAgeDays: -1, Keys: []SeedKey{{AgeDays: 10, LastUsedDaysAgo: 5}, {AgeDays: 40, LastUsedDaysAgo: -1}}},
		{Name: "b", PasswordAgeDays: 20, PasswordLastUsedDaysAgo: 3},
		{
			Name: "c", PasswordAgeDays: -1, Certs: []SeedCert{{AgeDays: 8}, {AgeDays: 60}},
			ServiceCredentials: []SeedServiceCredential{{Service: "codecommit.amazonaws.com", AgeDays: 8}}, SSHKeys: []SeedSSHKey{{AgeDays: 8}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	type step struct {
		days int
		kind seedKind
		user int
	}
	var got []step
	for _, e := range ev {
		got = append(got, step{e.daysAgo, e.kind, e.user})
	}
	want := []step{
		{60, evCreateUser, 2}, // raised to the oldest certificate
		{60, evCreateCerts, 2},
		{40, evCreateUser, 0}, // raised to the oldest key
		{40, evCreateKeys, 0},
		{20, evCreateUser, 1}, // the password's age
		{10, evCreateKeys, 0},
		{8, evCreateCerts, 2},
		{8, evCreateServiceCredentials, 2},
		{8, evUploadSSHKeys, 2},
		{5, evUseKeys, 0},
		{3, evUsePassword, 1},
	}
	if !slices.Equal(got, want) {
		t.Errorf("seedEvents = %v; want %v", got, want)
	}

	for _, tc := range []struct {
		name string
		u    SeedUser
		want string
	}{
		{"used before created", SeedUser{Name: "x", PasswordAgeDays: -1, Keys: []SeedKey{{AgeDays: 1, LastUsedDaysAgo: 2}}}, "before it was created"},
		{"created differs from password", SeedUser{Name: "x", PasswordAgeDays: 5, CreatedDaysAgo: 9}, "password_last_changed"},
		{"key older than password", SeedUser{Name: "x", PasswordAgeDays: 5, Keys: []SeedKey{{AgeDays: 9}}}, "older than the user's password"},
		{"three keys", SeedUser{Name: "x", PasswordAgeDays: -1, Keys: make([]SeedKey, 3)}, "IAM allows 2"},
		{"certificate older than password", SeedUser{Name: "x", PasswordAgeDays: 5, Certs: []SeedCert{{AgeDays: 9}}}, "signing certificate 1: 9 days old, older than the user's password"},
		{"three certificates", SeedUser{Name: "x", PasswordAgeDays: -1, Certs: make([]SeedCert, 3)}, "3 signing certificates, IAM allows 2"},
		{"three credentials for one service", SeedUser{Name: "x", PasswordAgeDays: -1, ServiceCredentials: []SeedServiceCredential{{Service: "codecommit.amazonaws.com"}, {Service: "codecommit.amazonaws.com"}, {Service: "codecommit.amazonaws.com"}}}, "more than 2 credentials for codecommit.amazonaws.com"},
		{"credential without service", SeedUser{Name: "x", PasswordAgeDays: -1, ServiceCredentials: []SeedServiceCredential{{AgeDays: 3}}}, "no Service"},
		{"six SSH keys", SeedUser{Name: "x", PasswordAgeDays: -1, SSHKeys: make([]SeedSSHKey, 6)}, "6 SSH keys, IAM allows 5"},
		{"negative SSH key age", SeedUser{Name: "x", PasswordAgeDays: -1, SSHKeys: []SeedSSHKey{{AgeDays: -2}}}, "SSH key 1: negative AgeDays"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := seedEvents([]SeedUser{tc.u})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("seedEvents(%+v) = %v; want an error containing %q", tc.u, err, tc.want)
			}
		})
	}
}

// TestSeedIntoMemberAccount: an organization's member account, reached
// through AssumeRole, is seeded with backdated keys that live in that
// account only.
func TestSeedIntoMemberAccount(t *testing.T) {
	m := Moto(t)
	ctx := context.Background()
	org := m.CreateOrganization(t, 2)
	if len(org.Members) != 2 || org.Members[0] == AccountID {
		t.Fatalf("CreateOrganization(2) members = %v; want two accounts other than %s", org.Members, AccountID)
	}
	member := org.Members[1]
	cfg := m.AssumeRoleConfig(t, "arn:aws:iam::"+member+":role/OrganizationAccountAccessRole")
	ids := m.SeedInto(t, cfg, []SeedUser{{Name: "mallory", Keys: []SeedKey{{AgeDays: 120, LastUsedDaysAgo: 3}},
		PasswordAgeDays: 150, PasswordLastUsedDaysAgo: 7}})

	who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Account) != member {
		t.Fatalf("assumed-role identity = %v, %v; want account %s", who, err, member)
	}
	keys, err := iam.NewFromConfig(cfg).ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: aws.String("mallory")})
	if err != nil || len(keys.AccessKeyMetadata) != 1 || aws.ToString(keys.AccessKeyMetadata[0].AccessKeyId) != ids["mallory"][0] {
		t.Fatalf("ListAccessKeys(mallory) in %s = %v, %v; want the seeded key %v", member, keys, err, ids["mallory"])
	}
	if d := daysSince(aws.ToTime(keys.AccessKeyMetadata[0].CreateDate)); d != 120 {
		t.Errorf("mallory's key is %d days old; want 120", d)
	}
	users, err := iam.NewFromConfig(m.Config(t)).ListUsers(ctx, &iam.ListUsersInput{})
	if err != nil || len(users.Users) != 0 {
		t.Errorf("management account users = %v, %v; want none (seeded into %s only)", users, err, member)
	}
	// The password's last use reached the member account's report.
	client := iam.NewFromConfig(cfg)
	if _, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{}); err != nil {
		t.Fatal(err)
	}
	rep, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(rep.Content))).ReadAll()
	// Root's row first (the member account's root), then mallory's.
	if err != nil || len(rows) != 3 || rows[1][1] != "arn:aws:iam::"+member+":root" ||
		rows[2][0] != "mallory" || rows[2][4] == "N/A" || rows[2][4] == "no_information" {
		t.Errorf("member credential report rows = %v, %v; want %s's root, then mallory with a password_last_used", rows, err, member)
	}
}

// TestCompliantPasswordPolicy: the policy is set in the account cfg signs
// for (a member here), with CIS 1.8's length and 1.9's reuse prevention and
// no maximum age; the other account still has none.
func TestCompliantPasswordPolicy(t *testing.T) {
	m := Moto(t)
	ctx := context.Background()
	member := m.CreateOrganization(t, 1).Members[0]
	m.CompliantPasswordPolicy(t, m.AssumeRoleConfig(t, "arn:aws:iam::"+member+":role/OrganizationAccountAccessRole"))
	got, err := iam.NewFromConfig(m.AssumeRoleConfig(t, "arn:aws:iam::"+member+":role/OrganizationAccountAccessRole")).
		GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if p := got.PasswordPolicy; aws.ToInt32(p.MinimumPasswordLength) != 14 || aws.ToInt32(p.PasswordReusePrevention) != 24 || (p.ExpirePasswords || aws.ToInt32(p.MaxPasswordAge) != 0) {
		t.Errorf("member's password policy: length %d, reuse prevention %d, expiry %v, maximum age %d; want 14, 24, none",
			aws.ToInt32(p.MinimumPasswordLength), aws.ToInt32(p.PasswordReusePrevention), p.ExpirePasswords, aws.ToInt32(p.MaxPasswordAge))
	}
	var none *types.NoSuchEntityException
	if _, err := iam.NewFromConfig(m.Config(t)).GetAccountPasswordPolicy(ctx, &iam.GetAccountPasswordPolicyInput{}); !errors.As(err, &none) {
		t.Errorf("management account's GetAccountPasswordPolicy: %v; want NoSuchEntity (the policy was set in the member only)", err)
	}
}

// TestExpireCredentialReport: the wrapper answers GenerateCredentialReport
// and GetCredentialReport as IAM does while a report is built and once it
// has expired (codes, types and HTTP statuses the SDK sees), never
// completes a report before its build time, and a reset puts back moto's
// report built at once.
func TestExpireCredentialReport(t *testing.T) {
	m := Moto(t)
	ctx := context.Background()
	client := iam.NewFromConfig(m.Config(t))
	generate := func() types.ReportStateType {
		t.Helper()
		out, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{})
		if err != nil {
			t.Fatalf("GenerateCredentialReport: %v", err)
		}
		return out.State
	}
	get := func() error {
		_, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
		return err
	}
	status := func(err error) int {
		var re *awshttp.ResponseError
		if errors.As(err, &re) {
			return re.HTTPStatusCode()
		}
		return 0
	}

	// Plain moto: built at once, kept.
	if s := generate(); s != types.ReportStateTypeStarted {
		t.Errorf("first GenerateCredentialReport = %s; want STARTED", s)
	}
	if err := get(); err != nil {
		t.Fatalf("GetCredentialReport after STARTED with no build time = %v; want the report", err)
	}
	if s := generate(); s != types.ReportStateTypeComplete {
		t.Errorf("GenerateCredentialReport with a report = %s; want COMPLETE", s)
	}

	const build = 2 * time.Second
	m.ExpireCredentialReport(t, build)
	var expired *types.CredentialReportExpiredException
	if err := get(); !errors.As(err, &expired) || status(err) != 410 {
		t.Errorf("GetCredentialReport of an expired report = %v (HTTP %d); want ReportExpired, 410", err, status(err))
	}
	started := time.Now()
	if s := generate(); s != types.ReportStateTypeStarted {
		t.Errorf("GenerateCredentialReport with an expired report = %s; want STARTED", s)
	}
	var notReady *types.CredentialReportNotReadyException
	if err := get(); !errors.As(err, &notReady) || status(err) != 404 {
		t.Errorf("GetCredentialReport while the report is built = %v (HTTP %d); want ReportInProgress, 404", err, status(err))
	}
	if s := generate(); s != types.ReportStateTypeInprogress {
		t.Errorf("GenerateCredentialReport while the report is built = %s; want INPROGRESS", s)
	}
	for generate() != types.ReportStateTypeComplete {
		if time.Since(started) > time.Minute {
			t.Fatalf("report not built a minute after STARTED (build time %s)", build)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if waited := time.Since(started); waited < build {
		t.Errorf("report COMPLETE %s after STARTED; want no sooner than its build time %s", waited, build)
	}
	if err := get(); err != nil {
		t.Errorf("GetCredentialReport once built = %v; want the report", err)
	}

	// A reset forgets the build time.
	Moto(t)
	if s := generate(); s != types.ReportStateTypeStarted {
		t.Errorf("GenerateCredentialReport after a reset = %s; want STARTED", s)
	}
	if err := get(); err != nil {
		t.Errorf("GetCredentialReport after a reset = %v; want the report at once", err)
	}
}

// TestCredentialReportGeneratedTime: GetCredentialReport's GeneratedTime
// is when the report was built, on moto's (shifted) clock, and stays so
// while the report is reused — not plain moto's fixed 2015 date.
func TestCredentialReportGeneratedTime(t *testing.T) {
	m := Moto(t)
	ctx := context.Background()
	client := iam.NewFromConfig(m.Config(t))
	m.SetClock(t, DaysAgo(3))
	if _, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{}); err != nil {
		t.Fatal(err)
	}
	m.SetClock(t, "+0")
	if out, err := client.GenerateCredentialReport(ctx, &iam.GenerateCredentialReportInput{}); err != nil || out.State != types.ReportStateTypeComplete {
		t.Fatalf("GenerateCredentialReport with a report = %v, %v; want COMPLETE (reused)", out, err)
	}
	out, err := client.GetCredentialReport(ctx, &iam.GetCredentialReportInput{})
	if err != nil {
		t.Fatal(err)
	}
	want := time.Now().AddDate(0, 0, -3)
	if got := aws.ToTime(out.GeneratedTime); got.Sub(want).Abs() > time.Minute {
		t.Errorf("GeneratedTime = %s; want about %s (built three days ago by moto's clock)", got, want)
	}
}
