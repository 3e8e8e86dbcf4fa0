package testenv

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// TestSeedOtherCredentials: Seed backdates signing certificates,
// service-specific credentials and SSH keys, deactivates the Inactive ones,
// returns their IDs, and the credential report holds the certificates in
// upload order with their upload dates.
func TestSeedOtherCredentials(t *testing.T) {
	m := Moto(t)
	ctx := context.Background()
	users := []SeedUser{
		{
			Name: "alice", PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1,
			Keys:  []SeedKey{{AgeDays: 90, LastUsedDaysAgo: -1}},
			Certs: []SeedCert{{AgeDays: 30, Inactive: true}, {AgeDays: 200}},
			ServiceCredentials: []SeedServiceCredential{
				{Service: codeCommit, AgeDays: 100},
				{Service: bedrock, AgeDays: 50, ExpiresAfterDays: 20},
				{Service: bedrock, AgeDays: 10, ExpiresAfterDays: 30, Inactive: true},
			},
			SSHKeys: []SeedSSHKey{{AgeDays: 400}, {AgeDays: 5, Inactive: true}},
		},
		{
			Name: "bob", PasswordAgeDays: 20, PasswordLastUsedDaysAgo: -1,
			Certs:              []SeedCert{{AgeDays: 20}},
			ServiceCredentials: []SeedServiceCredential{{Service: keyspaces, AgeDays: 0}},
		},
	}
	got := m.SeedAll(t, users)
	client := iam.NewFromConfig(m.Config(t))

	for _, u := range users {
		if len(got.Keys[u.Name]) != len(u.Keys) || len(got.Certs[u.Name]) != len(u.Certs) ||
			len(got.ServiceCredentials[u.Name]) != len(u.ServiceCredentials) || len(got.SSHKeys[u.Name]) != len(u.SSHKeys) {
			t.Fatalf("SeedAll for %s: %d keys, %d certificates, %d service credentials, %d SSH keys; want %d %d %d %d", u.Name,
				len(got.Keys[u.Name]), len(got.Certs[u.Name]), len(got.ServiceCredentials[u.Name]), len(got.SSHKeys[u.Name]),
				len(u.Keys), len(u.Certs), len(u.ServiceCredentials), len(u.SSHKeys))
		}
	}
	status := func(inactive bool) types.StatusType {
		if inactive {
			return types.StatusTypeInactive
		}
		return types.StatusTypeActive
	}

	// The user dates from its oldest credential, the SSH key.
	user, err := client.GetUser(ctx, &iam.GetUserInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	if d := daysSince(aws.ToTime(user.User.CreateDate)); d != 400 {
		t.Errorf("alice created %d days ago; want 400 (her oldest SSH key)", d)
	}

	// Signing certificates: real X.509, backdated, by ID.
	for _, u := range users {
		certs, err := client.ListSigningCertificates(ctx, &iam.ListSigningCertificatesInput{UserName: aws.String(u.Name)})
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]types.SigningCertificate{}
		for _, c := range certs.Certificates {
			byID[aws.ToString(c.CertificateId)] = c
		}
		for i, want := range u.Certs {
			c, ok := byID[got.Certs[u.Name][i]]
			if !ok {
				t.Fatalf("%s certificate %d (%s) not listed", u.Name, i+1, got.Certs[u.Name][i])
			}
			if d := daysSince(aws.ToTime(c.UploadDate)); d != want.AgeDays || c.Status != status(want.Inactive) {
				t.Errorf("%s certificate %d: %d days old, %s; want %d, %s", u.Name, i+1, d, c.Status, want.AgeDays, status(want.Inactive))
			}
			block, _ := pem.Decode([]byte(aws.ToString(c.CertificateBody)))
			if block == nil {
				t.Fatalf("%s certificate %d: body is not PEM", u.Name, i+1)
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil || cert.Subject.CommonName != u.Name || cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature) != nil {
				t.Errorf("%s certificate %d: parse %v; subject %q; want a certificate self-signed for the user", u.Name, i+1, err, cert.Subject.CommonName)
			}
		}
	}

	// The report's certificate slots: upload order, so alice's 200-day-old
	// certificate (listed second) is slot 1.
	rows := credentialReport(t, client)
	rotated := func(user, col string) int {
		t.Helper()
		ts, err := time.Parse(time.RFC3339, rows[user][col])
		if err != nil {
			t.Fatalf("%s's %s = %q: %v", user, col, rows[user][col], err)
		}
		return daysSince(ts)
	}
	a := rows["alice"]
	if a["cert_1_active"] != "true" || rotated("alice", "cert_1_last_rotated") != 200 || a["cert_2_active"] != "false" || rotated("alice", "cert_2_last_rotated") != 30 {
		t.Errorf("alice's certificate columns: %s %s %s %s; want true, 200 days ago, false, 30 days ago", a["cert_1_active"], a["cert_1_last_rotated"], a["cert_2_active"], a["cert_2_last_rotated"])
	}
	b := rows["bob"]
	if b["cert_1_active"] != "true" || rotated("bob", "cert_1_last_rotated") != 20 || b["cert_2_active"] != "false" || b["cert_2_last_rotated"] != "N/A" {
		t.Errorf("bob's certificate columns: %s %s %s %s; want true, 20 days ago, false, N/A", b["cert_1_active"], b["cert_1_last_rotated"], b["cert_2_active"], b["cert_2_last_rotated"])
	}
	if got := rotated("alice", "access_key_1_last_rotated"); got != 90 {
		t.Errorf("alice's access_key_1_last_rotated %d days ago; want 90", got)
	}

	// Service-specific credentials: backdated, expiring from creation.
	creds, _ := listServiceCredentials(t, client, iam.ListServiceSpecificCredentialsInput{AllUsers: aws.Bool(true)}, 0)
	byID := map[string]types.ServiceSpecificCredentialMetadata{}
	for _, c := range creds {
		byID[aws.ToString(c.ServiceSpecificCredentialId)] = c
	}
	for _, u := range users {
		for i, want := range u.ServiceCredentials {
			c, ok := byID[got.ServiceCredentials[u.Name][i]]
			if !ok {
				t.Fatalf("%s service credential %d (%s) not listed", u.Name, i+1, got.ServiceCredentials[u.Name][i])
			}
			wantStatus := status(want.Inactive)
			if want.ExpiresAfterDays > 0 && want.ExpiresAfterDays <= want.AgeDays {
				wantStatus = types.StatusTypeExpired
			}
			if d := daysSince(aws.ToTime(c.CreateDate)); d != want.AgeDays || aws.ToString(c.ServiceName) != want.Service || c.Status != wantStatus {
				t.Errorf("%s service credential %d: %s, %d days old, %s; want %s, %d, %s", u.Name, i+1, aws.ToString(c.ServiceName), d, c.Status, want.Service, want.AgeDays, wantStatus)
			}
			switch {
			case want.ExpiresAfterDays == 0 && c.ExpirationDate != nil:
				t.Errorf("%s service credential %d expires %v; want never", u.Name, i+1, *c.ExpirationDate)
			case want.ExpiresAfterDays > 0 && (c.ExpirationDate == nil || c.ExpirationDate.Sub(aws.ToTime(c.CreateDate)) != time.Duration(want.ExpiresAfterDays)*24*time.Hour):
				t.Errorf("%s service credential %d: created %v, expires %v; want %d days later", u.Name, i+1, c.CreateDate, c.ExpirationDate, want.ExpiresAfterDays)
			}
		}
	}

	// SSH keys: ssh-rsa bodies, backdated.
	keys, err := client.ListSSHPublicKeys(ctx, &iam.ListSSHPublicKeysInput{UserName: aws.String("alice")})
	if err != nil {
		t.Fatal(err)
	}
	ssh := map[string]types.SSHPublicKeyMetadata{}
	for _, k := range keys.SSHPublicKeys {
		ssh[aws.ToString(k.SSHPublicKeyId)] = k
	}
	for i, want := range users[0].SSHKeys {
		id := got.SSHKeys["alice"][i]
		k, ok := ssh[id]
		if !ok {
			t.Fatalf("alice's SSH key %d (%s) not listed", i+1, id)
		}
		if d := daysSince(aws.ToTime(k.UploadDate)); d != want.AgeDays || k.Status != status(want.Inactive) {
			t.Errorf("alice's SSH key %d: %d days old, %s; want %d, %s", i+1, d, k.Status, want.AgeDays, status(want.Inactive))
		}
		full, err := client.GetSSHPublicKey(ctx, &iam.GetSSHPublicKeyInput{UserName: aws.String("alice"), SSHPublicKeyId: aws.String(id), Encoding: types.EncodingTypeSsh})
		if err != nil {
			t.Fatal(err)
		}
		if body := aws.ToString(full.SSHPublicKey.SSHPublicKeyBody); !strings.HasPrefix(body, "ssh-rsa AAAAB3NzaC1yc2E") {
			t.Errorf("alice's SSH key %d body %.30q…; want an ssh-rsa key", i+1, body)
		}
	}
}
