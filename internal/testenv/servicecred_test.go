package testenv

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

const (
	codeCommit = "codecommit.amazonaws.com"
	keyspaces  = "cassandra.amazonaws.com"
	bedrock    = "bedrock.amazonaws.com"
)

// createUsers creates IAM users by name.
func createUsers(t *testing.T, client *iam.Client, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := client.CreateUser(context.Background(), &iam.CreateUserInput{UserName: aws.String(n)}); err != nil {
			t.Fatalf("create user %s: %v", n, err)
		}
	}
}

// createServiceCredential creates one service-specific credential; days > 0
// sets CredentialAgeDays.
func createServiceCredential(t *testing.T, client *iam.Client, user, service string, days int32) *types.ServiceSpecificCredential {
	t.Helper()
	in := &iam.CreateServiceSpecificCredentialInput{UserName: aws.String(user), ServiceName: aws.String(service)}
	if days > 0 {
		in.CredentialAgeDays = aws.Int32(days)
	}
	out, err := client.CreateServiceSpecificCredential(context.Background(), in)
	if err != nil {
		t.Fatalf("create %s credential of %s: %v", service, user, err)
	}
	return out.ServiceSpecificCredential
}

// listServiceCredentials pages through ListServiceSpecificCredentials,
// MaxItems at a time (0: IAM's default), and returns the credentials and
// the number of pages.
func listServiceCredentials(t *testing.T, client *iam.Client, in iam.ListServiceSpecificCredentialsInput, maxItems int32) ([]types.ServiceSpecificCredentialMetadata, int) {
	t.Helper()
	var all []types.ServiceSpecificCredentialMetadata
	pages := 0
	if maxItems > 0 {
		in.MaxItems = aws.Int32(maxItems)
	}
	for {
		out, err := client.ListServiceSpecificCredentials(context.Background(), &in)
		if err != nil {
			t.Fatalf("list service-specific credentials (page %d): %v", pages+1, err)
		}
		pages++
		if maxItems > 0 && len(out.ServiceSpecificCredentials) > int(maxItems) {
			t.Fatalf("page %d holds %d credentials; MaxItems %d", pages, len(out.ServiceSpecificCredentials), maxItems)
		}
		all = append(all, out.ServiceSpecificCredentials...)
		if !out.IsTruncated {
			if out.Marker != nil {
				t.Errorf("last page has Marker %q; want none", aws.ToString(out.Marker))
			}
			return all, pages
		}
		if aws.ToString(out.Marker) == "" {
			t.Fatalf("page %d is truncated but has no Marker", pages)
		}
		in.Marker = out.Marker
	}
}

func credentialIDs(creds []types.ServiceSpecificCredentialMetadata) []string {
	var ids []string
	for _, c := range creds {
		ids = append(ids, aws.ToString(c.ServiceSpecificCredentialId))
	}
	slices.Sort(ids)
	return ids
}

// wantAPIError fails unless err is an IAM error with the code and HTTP
// status.
func wantAPIError(t *testing.T, what string, err error, code string, status int) {
	t.Helper()
	var re *awshttp.ResponseError
	switch {
	case err == nil:
		t.Errorf("%s: no error; want %s (%d)", what, code, status)
	case !errors.As(err, &re):
		t.Errorf("%s: %v; want an API error %s (%d)", what, err, code, status)
	default:
		var coded interface{ ErrorCode() string }
		if !errors.As(err, &coded) || coded.ErrorCode() != code || re.HTTPStatusCode() != status {
			t.Errorf("%s: %v (HTTP %d); want %s (%d)", what, err, re.HTTPStatusCode(), code, status)
		}
	}
}

func TestServiceSpecificCredentialCreate(t *testing.T) {
	m := Moto(t)
	client := iam.NewFromConfig(m.Config(t))
	createUsers(t, client, "dev")

	before := time.Now().Add(-time.Minute)
	cc := createServiceCredential(t, client, "dev", codeCommit, 0)
	if got := aws.ToString(cc.ServiceUserName); got != "dev-at-"+AccountID {
		t.Errorf("CodeCommit ServiceUserName = %q; want dev-at-%s", got, AccountID)
	}
	if aws.ToString(cc.ServicePassword) == "" {
		t.Error("CodeCommit credential: Create returned no ServicePassword")
	}
	if cc.ServiceCredentialSecret != nil || cc.ServiceCredentialAlias != nil || cc.ExpirationDate != nil {
		t.Errorf("CodeCommit credential carries API-key fields: alias %v secret set %v expiration %v", cc.ServiceCredentialAlias, cc.ServiceCredentialSecret != nil, cc.ExpirationDate)
	}
	if cc.Status != types.StatusTypeActive || aws.ToString(cc.UserName) != "dev" || aws.ToString(cc.ServiceName) != codeCommit {
		t.Errorf("CodeCommit credential: status %s user %s service %s; want Active dev %s", cc.Status, aws.ToString(cc.UserName), aws.ToString(cc.ServiceName), codeCommit)
	}
	if id := aws.ToString(cc.ServiceSpecificCredentialId); len(id) < 20 {
		t.Errorf("ServiceSpecificCredentialId %q: want at least 20 characters", id)
	}
	if created := aws.ToTime(cc.CreateDate); created.Before(before) || created.After(time.Now().Add(time.Minute)) {
		t.Errorf("CreateDate %v; want now", created)
	}

	br := createServiceCredential(t, client, "dev", bedrock, 30)
	if got := aws.ToString(br.ServiceCredentialAlias); got != "dev-at-"+AccountID {
		t.Errorf("Bedrock ServiceCredentialAlias = %q; want dev-at-%s", got, AccountID)
	}
	if aws.ToString(br.ServiceCredentialSecret) == "" || br.ServicePassword != nil {
		t.Errorf("Bedrock credential: secret set %v, password set %v; want a secret and no password", br.ServiceCredentialSecret != nil, br.ServicePassword != nil)
	}
	if br.ExpirationDate == nil || br.ExpirationDate.Sub(aws.ToTime(br.CreateDate)) != 30*24*time.Hour {
		t.Errorf("Bedrock credential: CreateDate %v ExpirationDate %v; want 30 days apart", br.CreateDate, br.ExpirationDate)
	}
	if no := createServiceCredential(t, client, "dev", bedrock, 0); no.ExpirationDate != nil {
		t.Errorf("Bedrock credential without CredentialAgeDays expires %v; want never", *no.ExpirationDate)
	}

	// Reset: a new password, same credential.
	reset, err := client.ResetServiceSpecificCredential(context.Background(), &iam.ResetServiceSpecificCredentialInput{
		UserName: aws.String("dev"), ServiceSpecificCredentialId: cc.ServiceSpecificCredentialId,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := reset.ServiceSpecificCredential
	if aws.ToString(r.ServiceSpecificCredentialId) != aws.ToString(cc.ServiceSpecificCredentialId) || aws.ToString(r.ServicePassword) == "" || aws.ToString(r.ServicePassword) == aws.ToString(cc.ServicePassword) {
		t.Errorf("reset: ID %s (want %s), new password differs: %v", aws.ToString(r.ServiceSpecificCredentialId), aws.ToString(cc.ServiceSpecificCredentialId), aws.ToString(r.ServicePassword) != aws.ToString(cc.ServicePassword))
	}
}

func TestServiceSpecificCredentialList(t *testing.T) {
	m := Moto(t)
	client := iam.NewFromConfig(m.Config(t))
	users := []string{"ana", "bob", "cyd", "dan", "eve"}
	createUsers(t, client, users...)
	var all, codecommit, ana []string
	for _, u := range users {
		for _, svc := range []string{codeCommit, keyspaces} {
			id := aws.ToString(createServiceCredential(t, client, u, svc, 0).ServiceSpecificCredentialId)
			all = append(all, id)
			if svc == codeCommit {
				codecommit = append(codecommit, id)
			}
			if u == "ana" {
				ana = append(ana, id)
			}
		}
	}
	id := aws.ToString(createServiceCredential(t, client, "ana", bedrock, 7).ServiceSpecificCredentialId)
	all, ana = append(all, id), append(ana, id)
	slices.Sort(all)
	slices.Sort(codecommit)
	slices.Sort(ana)

	got, pages := listServiceCredentials(t, client, iam.ListServiceSpecificCredentialsInput{UserName: aws.String("ana")}, 0)
	if ids := credentialIDs(got); !slices.Equal(ids, ana) || pages != 1 {
		t.Errorf("ana's credentials: %v in %d pages; want %v in 1", ids, pages, ana)
	}
	for _, c := range got {
		wantAlias := aws.ToString(c.ServiceName) == bedrock
		if (c.ServiceCredentialAlias != nil) != wantAlias || (c.ServiceUserName != nil) == wantAlias {
			t.Errorf("%s credential: alias %v, service user name %v", aws.ToString(c.ServiceName), c.ServiceCredentialAlias, c.ServiceUserName)
		}
		if c.Status != types.StatusTypeActive || aws.ToString(c.UserName) != "ana" || c.CreateDate == nil {
			t.Errorf("ana's %s credential: status %s user %s created %v", aws.ToString(c.ServiceName), c.Status, aws.ToString(c.UserName), c.CreateDate)
		}
	}

	got, _ = listServiceCredentials(t, client, iam.ListServiceSpecificCredentialsInput{AllUsers: aws.Bool(true)}, 0)
	if ids := credentialIDs(got); !slices.Equal(ids, all) {
		t.Errorf("AllUsers: %v; want %v", ids, all)
	}
	got, _ = listServiceCredentials(t, client, iam.ListServiceSpecificCredentialsInput{AllUsers: aws.Bool(true), ServiceName: aws.String(codeCommit)}, 0)
	if ids := credentialIDs(got); !slices.Equal(ids, codecommit) {
		t.Errorf("AllUsers for %s: %v; want %v", codeCommit, ids, codecommit)
	}

	// 11 credentials, 3 a page: 4 pages, each credential once.
	got, pages = listServiceCredentials(t, client, iam.ListServiceSpecificCredentialsInput{AllUsers: aws.Bool(true)}, 3)
	if ids := credentialIDs(got); !slices.Equal(ids, all) || pages != 4 {
		t.Errorf("AllUsers, MaxItems 3: %v in %d pages; want %v in 4", ids, pages, all)
	}
	got, pages = listServiceCredentials(t, client, iam.ListServiceSpecificCredentialsInput{AllUsers: aws.Bool(true)}, 11)
	if len(got) != 11 || pages != 1 {
		t.Errorf("AllUsers, MaxItems 11: %d credentials in %d pages; want 11 in 1", len(got), pages)
	}

	// Without UserName, the user whose key signs the request.
	key, err := client.CreateAccessKey(context.Background(), &iam.CreateAccessKeyInput{UserName: aws.String("bob")})
	if err != nil {
		t.Fatal(err)
	}
	asBob := iam.NewFromConfig(m.ConfigWithKey(t, aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey)))
	got, _ = listServiceCredentials(t, asBob, iam.ListServiceSpecificCredentialsInput{}, 0)
	if len(got) != 2 || aws.ToString(got[0].UserName) != "bob" || aws.ToString(got[1].UserName) != "bob" {
		t.Errorf("signed by bob, no UserName: %d credentials %v; want bob's 2", len(got), credentialIDs(got))
	}

	// Another account sees none of them, and keeps its own.
	org := m.CreateOrganization(t, 1)
	member := iam.NewFromConfig(m.AssumeRoleConfig(t, "arn:aws:iam::"+org.Members[0]+":role/OrganizationAccountAccessRole"))
	got, _ = listServiceCredentials(t, member, iam.ListServiceSpecificCredentialsInput{AllUsers: aws.Bool(true)}, 0)
	if len(got) != 0 {
		t.Errorf("member account lists %d credentials of the management account; want 0", len(got))
	}
	createUsers(t, member, "ana")
	mine := createServiceCredential(t, member, "ana", codeCommit, 0)
	if got := aws.ToString(mine.ServiceUserName); got != "ana-at-"+org.Members[0] {
		t.Errorf("member account's ServiceUserName = %q; want ana-at-%s", got, org.Members[0])
	}
	got, _ = listServiceCredentials(t, client, iam.ListServiceSpecificCredentialsInput{AllUsers: aws.Bool(true)}, 0)
	if ids := credentialIDs(got); !slices.Equal(ids, all) {
		t.Errorf("management account after the member's create: %v; want %v", ids, all)
	}
}

func TestServiceSpecificCredentialUpdateDeleteAndLimit(t *testing.T) {
	m := Moto(t)
	ctx := context.Background()
	client := iam.NewFromConfig(m.Config(t))
	createUsers(t, client, "dev")
	first := createServiceCredential(t, client, "dev", codeCommit, 0).ServiceSpecificCredentialId
	second := createServiceCredential(t, client, "dev", codeCommit, 0).ServiceSpecificCredentialId
	_, err := client.CreateServiceSpecificCredential(ctx, &iam.CreateServiceSpecificCredentialInput{UserName: aws.String("dev"), ServiceName: aws.String(codeCommit)})
	wantAPIError(t, "third CodeCommit credential", err, "LimitExceeded", 409)
	// The limit is per service.
	createServiceCredential(t, client, "dev", keyspaces, 0)

	status := func(id *string) types.StatusType {
		t.Helper()
		got, _ := listServiceCredentials(t, client, iam.ListServiceSpecificCredentialsInput{UserName: aws.String("dev")}, 0)
		for _, c := range got {
			if aws.ToString(c.ServiceSpecificCredentialId) == aws.ToString(id) {
				return c.Status
			}
		}
		return ""
	}
	for _, s := range []types.StatusType{types.StatusTypeInactive, types.StatusTypeActive} {
		if _, err := client.UpdateServiceSpecificCredential(ctx, &iam.UpdateServiceSpecificCredentialInput{UserName: aws.String("dev"), ServiceSpecificCredentialId: first, Status: s}); err != nil {
			t.Fatalf("update to %s: %v", s, err)
		}
		if got := status(first); got != s {
			t.Errorf("after update to %s: status %s", s, got)
		}
	}
	if got := status(second); got != types.StatusTypeActive {
		t.Errorf("the other credential's status %s; want Active", got)
	}

	if _, err := client.DeleteServiceSpecificCredential(ctx, &iam.DeleteServiceSpecificCredentialInput{UserName: aws.String("dev"), ServiceSpecificCredentialId: first}); err != nil {
		t.Fatal(err)
	}
	if got := status(first); got != "" {
		t.Errorf("deleted credential still listed, %s", got)
	}
	_, err = client.DeleteServiceSpecificCredential(ctx, &iam.DeleteServiceSpecificCredentialInput{UserName: aws.String("dev"), ServiceSpecificCredentialId: first})
	wantAPIError(t, "delete a deleted credential", err, "NoSuchEntity", 404)
	// Room again for a second CodeCommit credential.
	createServiceCredential(t, client, "dev", codeCommit, 0)
}

func TestServiceSpecificCredentialExpires(t *testing.T) {
	m := Moto(t)
	client := iam.NewFromConfig(m.Config(t))
	createUsers(t, client, "dev")
	m.SetClock(t, "-10d")
	old := createServiceCredential(t, client, "dev", bedrock, 5)
	m.SetClock(t, "+0")
	soon := createServiceCredential(t, client, "dev", bedrock, 3)
	if d := daysSince(aws.ToTime(old.CreateDate)); d != 10 {
		t.Errorf("credential created at -10d is %d days old; want 10", d)
	}

	statuses := func() map[string]types.StatusType {
		t.Helper()
		got, _ := listServiceCredentials(t, client, iam.ListServiceSpecificCredentialsInput{UserName: aws.String("dev")}, 0)
		out := map[string]types.StatusType{}
		for _, c := range got {
			out[aws.ToString(c.ServiceSpecificCredentialId)] = c.Status
		}
		return out
	}
	oldID, soonID := aws.ToString(old.ServiceSpecificCredentialId), aws.ToString(soon.ServiceSpecificCredentialId)
	if s := statuses(); s[oldID] != types.StatusTypeExpired || s[soonID] != types.StatusTypeActive {
		t.Errorf("now: expired-5-days-ago %s, expires-in-3-days %s; want Expired Active", s[oldID], s[soonID])
	}
	m.SetClock(t, "+4d")
	if s := statuses(); s[soonID] != types.StatusTypeExpired {
		t.Errorf("4 days on: expires-in-3-days %s; want Expired", s[soonID])
	}
	m.SetClock(t, "+2d")
	if s := statuses(); s[soonID] != types.StatusTypeActive {
		t.Errorf("2 days on: expires-in-3-days %s; want Active", s[soonID])
	}
}

func TestServiceSpecificCredentialErrors(t *testing.T) {
	m := Moto(t)
	ctx := context.Background()
	client := iam.NewFromConfig(m.Config(t))
	createUsers(t, client, "dev")
	cred := createServiceCredential(t, client, "dev", codeCommit, 0)

	create := func(user, service string, days *int32) error {
		_, err := client.CreateServiceSpecificCredential(ctx, &iam.CreateServiceSpecificCredentialInput{UserName: aws.String(user), ServiceName: aws.String(service), CredentialAgeDays: days})
		return err
	}
	wantAPIError(t, "create for an unknown user", create("nobody", codeCommit, nil), "NoSuchEntity", 404)
	wantAPIError(t, "create for s3", create("dev", "s3.amazonaws.com", nil), "NotSupportedService", 404)
	wantAPIError(t, "CredentialAgeDays for CodeCommit", create("dev", codeCommit, aws.Int32(5)), "InvalidInput", 400)
	wantAPIError(t, "CredentialAgeDays 0", create("dev", bedrock, aws.Int32(0)), "InvalidInput", 400)
	wantAPIError(t, "CredentialAgeDays 36601", create("dev", bedrock, aws.Int32(36601)), "InvalidInput", 400)
	if err := create("dev", bedrock, aws.Int32(36600)); err != nil {
		t.Errorf("CredentialAgeDays 36600: %v", err)
	}

	_, err := client.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{UserName: aws.String("dev"), AllUsers: aws.Bool(true)})
	wantAPIError(t, "list with UserName and AllUsers", err, "InvalidInput", 400)
	_, err = client.ListServiceSpecificCredentials(ctx, &iam.ListServiceSpecificCredentialsInput{UserName: aws.String("nobody")})
	wantAPIError(t, "list for an unknown user", err, "NoSuchEntity", 404)

	_, err = client.UpdateServiceSpecificCredential(ctx, &iam.UpdateServiceSpecificCredentialInput{UserName: aws.String("dev"), ServiceSpecificCredentialId: aws.String("ACCAAAAAAAAAAAAAAAAAA"), Status: types.StatusTypeInactive})
	wantAPIError(t, "update an unknown credential", err, "NoSuchEntity", 404)
	createUsers(t, client, "other")
	_, err = client.ResetServiceSpecificCredential(ctx, &iam.ResetServiceSpecificCredentialInput{UserName: aws.String("other"), ServiceSpecificCredentialId: cred.ServiceSpecificCredentialId})
	wantAPIError(t, "reset another user's credential", err, "NoSuchEntity", 404)

	// A user with service-specific credentials cannot be deleted.
	_, err = client.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("dev")})
	wantAPIError(t, "delete a user with service-specific credentials", err, "DeleteConflict", 409)
	got, _ := listServiceCredentials(t, client, iam.ListServiceSpecificCredentialsInput{UserName: aws.String("dev")}, 0)
	for _, c := range got {
		if _, err := client.DeleteServiceSpecificCredential(ctx, &iam.DeleteServiceSpecificCredentialInput{UserName: aws.String("dev"), ServiceSpecificCredentialId: c.ServiceSpecificCredentialId}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.DeleteUser(ctx, &iam.DeleteUserInput{UserName: aws.String("dev")}); err != nil {
		t.Errorf("delete the user once its credentials are gone: %v", err)
	}
}
