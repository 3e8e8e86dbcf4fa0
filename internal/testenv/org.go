package testenv

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	orgtypes "github.com/aws/aws-sdk-go-v2/service/organizations/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Organization is an AWS Organization created in moto through the
// Organizations API, managed from AccountID (the harness's caller).
type Organization struct {
	ID     string
	RootID string
	// Members are the created member accounts' IDs, in creation order.
	Members []string
}

// CreateOrganization creates an organization (all features) whose
// management account is AccountID, with n member accounts created by
// organizations:CreateAccount. moto creates accounts at once (SUCCEEDED).
func (m *MotoServer) CreateOrganization(t testing.TB, n int) *Organization {
	t.Helper()
	ctx := context.Background()
	c := organizations.NewFromConfig(m.Config(t))
	out, err := c.CreateOrganization(ctx, &organizations.CreateOrganizationInput{FeatureSet: orgtypes.OrganizationFeatureSetAll})
	if err != nil {
		t.Fatalf("create organization: %v", err)
	}
	roots, err := c.ListRoots(ctx, &organizations.ListRootsInput{})
	if err != nil || len(roots.Roots) == 0 {
		t.Fatalf("list organization roots: %v", err)
	}
	org := &Organization{ID: aws.ToString(out.Organization.Id), RootID: aws.ToString(roots.Roots[0].Id)}
	for i := range n {
		st, err := c.CreateAccount(ctx, &organizations.CreateAccountInput{
			AccountName: aws.String(fmt.Sprintf("member-%d", i+1)),
			Email:       aws.String(fmt.Sprintf("member-%d@example.com", i+1)),
		})
		if err != nil {
			t.Fatalf("create account %d: %v", i+1, err)
		}
		if st.CreateAccountStatus.State != orgtypes.CreateAccountStateSucceeded {
			t.Fatalf("create account %d: state %s", i+1, st.CreateAccountStatus.State)
		}
		org.Members = append(org.Members, aws.ToString(st.CreateAccountStatus.AccountId))
	}
	return org
}

// CreateOU creates an organizational unit under parent and moves the
// accounts into it (from the root). It returns the OU's ID.
func (m *MotoServer) CreateOU(t testing.TB, org *Organization, parent, name string, accounts ...string) string {
	t.Helper()
	ctx := context.Background()
	c := organizations.NewFromConfig(m.Config(t))
	out, err := c.CreateOrganizationalUnit(ctx, &organizations.CreateOrganizationalUnitInput{ParentId: aws.String(parent), Name: aws.String(name)})
	if err != nil {
		t.Fatalf("create OU %s: %v", name, err)
	}
	id := aws.ToString(out.OrganizationalUnit.Id)
	for _, a := range accounts {
		if _, err := c.MoveAccount(ctx, &organizations.MoveAccountInput{AccountId: aws.String(a), SourceParentId: aws.String(org.RootID), DestinationParentId: aws.String(id)}); err != nil {
			t.Fatalf("move account %s to %s: %v", a, name, err)
		}
	}
	return id
}

// AssumeRoleConfig assumes role (an ARN; moto does not require the role to
// exist) and returns a configuration that signs with the temporary
// credentials: moto serves its requests from the role's account.
func (m *MotoServer) AssumeRoleConfig(t testing.TB, roleARN string) aws.Config {
	t.Helper()
	out, err := sts.NewFromConfig(m.Config(t)).AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String(roleARN), RoleSessionName: aws.String("keywarden-seed"),
	})
	if err != nil {
		t.Fatalf("assume %s: %v", roleARN, err)
	}
	cfg := m.Config(t)
	c := out.Credentials
	cfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
	return cfg
}
