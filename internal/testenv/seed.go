package testenv

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/sync/errgroup"
)

// SeedPassword is the console password Seed gives users.
const SeedPassword = "Keywarden-Seed-Passw0rd!"

// seedParallel bounds the requests Seed sends to moto at once.
const seedParallel = 4

// SeedUser describes one IAM user for Seed. Day counts are days before now
// (moto's unshifted clock); note the zero values: 0 means "today", and -1
// means "none"/"never" where allowed.
type SeedUser struct {
	Name   string
	Path   string // "" means "/"
	Tags   map[string]string
	Groups []string // created when missing
	Keys   []SeedKey
	// PasswordAgeDays is how long ago the console password was set, -1 for
	// no password. moto reports password_last_changed as the user's creation
	// time, so a user with a password is created PasswordAgeDays ago.
	PasswordAgeDays int
	// PasswordLastUsedDaysAgo is when the password was last used, -1 for
	// never. Ignored without a password.
	PasswordLastUsedDaysAgo int
	MFA                     bool // a virtual MFA device, enabled
	// CreatedDaysAgo is when the user was created. It must be 0 or equal
	// PasswordAgeDays when the user has a password; it is raised to the
	// oldest credential's age (key, certificate, service-specific
	// credential or SSH key).
	CreatedDaysAgo int
	// Certs are X.509 signing certificates (UploadSigningCertificate of a
	// freshly generated self-signed certificate), at most 2. The credential
	// report's cert_1_* and cert_2_* columns hold them in upload order, so
	// the oldest is slot 1.
	Certs []SeedCert
	// ServiceCredentials are service-specific credentials
	// (CreateServiceSpecificCredential), at most 2 per service.
	ServiceCredentials []SeedServiceCredential
	// SSHKeys are SSH public keys (UploadSSHPublicKey of a freshly
	// generated ssh-rsa key), at most 5 (IAM's quota).
	SSHKeys []SeedSSHKey
}

// SeedCert describes one signing certificate of a SeedUser.
type SeedCert struct {
	AgeDays  int // uploaded this many days ago
	Inactive bool
}

// SeedServiceCredential describes one service-specific credential of a
// SeedUser.
type SeedServiceCredential struct {
	// Service is the ServiceName, such as "codecommit.amazonaws.com",
	// "cassandra.amazonaws.com" or "bedrock.amazonaws.com".
	Service string
	AgeDays int // created this many days ago
	// ExpiresAfterDays is the CredentialAgeDays it is created with (Bedrock
	// API keys only): it expires that many days after its creation, so
	// AgeDays 10 and ExpiresAfterDays 4 expired 6 days ago. 0: it never
	// expires.
	ExpiresAfterDays int
	Inactive         bool
}

// SeedSSHKey describes one SSH public key of a SeedUser.
type SeedSSHKey struct {
	AgeDays  int // uploaded this many days ago
	Inactive bool
}

// Seeded is what Seed created: each user's credential IDs, in the order of
// the SeedUser's Keys, Certs, ServiceCredentials and SSHKeys.
type Seeded struct {
	Keys               map[string][]string // access key IDs
	Certs              map[string][]string // signing certificate IDs
	ServiceCredentials map[string][]string // ServiceSpecificCredentialIds
	SSHKeys            map[string][]string // SSHPublicKeyIds
}

// SeedKey describes one access key of a SeedUser.
type SeedKey struct {
	AgeDays         int
	LastUsedDaysAgo int // -1: never used
	Inactive        bool
}

// Seed creates users, keys, passwords, MFA devices, group memberships,
// tags, signing certificates, service-specific credentials and SSH public
// keys in moto at backdated times, moving moto's clock to each distinct
// day once (oldest first) and back to +0 at the end. A key is marked used
// by signing a request (sts:GetCallerIdentity) with it while the clock is
// shifted; a password by the harness's test-only endpoint.
//
// It returns each user's access key IDs in the order of SeedUser.Keys
// (SeedAll returns the other credentials' IDs too). moto fills the
// report's key slots in creation order, so the oldest key is slot 1.
func (m *MotoServer) Seed(t testing.TB, users []SeedUser) map[string][]string {
	t.Helper()
	return m.SeedAllInto(t, m.Config(t), users).Keys
}

// SeedInto is Seed in the account that cfg signs for: moto maps
// credentials from sts:AssumeRole to the role's account, so
// SeedInto(t, m.AssumeRoleConfig(t, arn), users) seeds a member account.
func (m *MotoServer) SeedInto(t testing.TB, cfg aws.Config, users []SeedUser) map[string][]string {
	t.Helper()
	return m.SeedAllInto(t, cfg, users).Keys
}

// SeedAll is Seed, returning the IDs of every credential it created.
func (m *MotoServer) SeedAll(t testing.TB, users []SeedUser) Seeded {
	t.Helper()
	return m.SeedAllInto(t, m.Config(t), users)
}

// SeedAllInto is SeedInto, returning the IDs of every credential it
// created.
func (m *MotoServer) SeedAllInto(t testing.TB, cfg aws.Config, users []SeedUser) Seeded {
	t.Helper()
	ctx := context.Background()
	client := iam.NewFromConfig(cfg)
	who, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("seed: identify the account: %v", err)
	}
	account := aws.ToString(who.Account)

	ev, err := seedEvents(users)
	if err != nil {
		t.Fatalf("seed: %v", err)
	}

	res := Seeded{
		Keys:               make(map[string][]string, len(users)),
		Certs:              make(map[string][]string, len(users)),
		ServiceCredentials: make(map[string][]string, len(users)),
		SSHKeys:            make(map[string][]string, len(users)),
	}
	keys := res.Keys
	secrets := map[string]string{}
	var mu sync.Mutex
	for _, u := range users {
		keys[u.Name] = make([]string, len(u.Keys))
		res.Certs[u.Name] = make([]string, len(u.Certs))
		res.ServiceCredentials[u.Name] = make([]string, len(u.ServiceCredentials))
		res.SSHKeys[u.Name] = make([]string, len(u.SSHKeys))
	}
	// createEach creates an event's credentials of one kind in order with
	// create, records their IDs in ids and deactivates the inactive ones.
	createEach := func(e seedEvent, what string, ids map[string][]string, inactive func(i int) bool, create func(i int) (string, error), deactivate func(id string) error) error {
		name := users[e.user].Name
		for _, i := range e.keys {
			id, err := create(i)
			if err != nil {
				return fmt.Errorf("create %s %d of %s: %w", what, i+1, name, err)
			}
			mu.Lock()
			ids[name][i] = id
			mu.Unlock()
			if inactive(i) {
				if err := deactivate(id); err != nil {
					return fmt.Errorf("deactivate %s %s of %s: %w", what, id, name, err)
				}
			}
		}
		return nil
	}

	// Groups first: their own creation time does not matter.
	groups := map[string]bool{}
	for _, u := range users {
		for _, g := range u.Groups {
			if !groups[g] {
				groups[g] = true
				if _, err := client.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String(g)}); err != nil {
					t.Fatalf("seed: create group %s: %v", g, err)
				}
			}
		}
	}

	do := func(e seedEvent) error {
		u := users[e.user]
		switch e.kind {
		case evCreateUser:
			in := &iam.CreateUserInput{UserName: aws.String(u.Name)}
			if u.Path != "" {
				in.Path = aws.String(u.Path)
			}
			for _, k := range slices.Sorted(maps.Keys(u.Tags)) {
				in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(u.Tags[k])})
			}
			if err := createOnce(func(o ...func(*iam.Options)) error { _, err := client.CreateUser(ctx, in, o...); return err }); err != nil {
				return fmt.Errorf("create user %s: %w", u.Name, err)
			}
			for _, g := range u.Groups {
				if _, err := client.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String(g), UserName: aws.String(u.Name)}); err != nil {
					return fmt.Errorf("add %s to group %s: %w", u.Name, g, err)
				}
			}
			if u.PasswordAgeDays >= 0 {
				if err := createOnce(func(o ...func(*iam.Options)) error {
					_, err := client.CreateLoginProfile(ctx, &iam.CreateLoginProfileInput{UserName: aws.String(u.Name), Password: aws.String(SeedPassword)}, o...)
					return err
				}); err != nil {
					return fmt.Errorf("create login profile of %s: %w", u.Name, err)
				}
			}
			if u.MFA {
				dev, err := client.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String(u.Name)})
				if err != nil {
					return fmt.Errorf("create MFA device of %s: %w", u.Name, err)
				}
				if _, err := client.EnableMFADevice(ctx, &iam.EnableMFADeviceInput{
					UserName: aws.String(u.Name), SerialNumber: dev.VirtualMFADevice.SerialNumber,
					AuthenticationCode1: aws.String("123456"), AuthenticationCode2: aws.String("654321"),
				}); err != nil {
					return fmt.Errorf("enable MFA device of %s: %w", u.Name, err)
				}
			}
		case evCreateKeys:
			for _, i := range e.keys {
				out, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(u.Name)})
				if err != nil {
					return fmt.Errorf("create access key %d of %s: %w", i+1, u.Name, err)
				}
				id := aws.ToString(out.AccessKey.AccessKeyId)
				mu.Lock()
				keys[u.Name][i] = id
				secrets[id] = aws.ToString(out.AccessKey.SecretAccessKey)
				mu.Unlock()
				if u.Keys[i].Inactive {
					if _, err := client.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String(u.Name), AccessKeyId: aws.String(id), Status: types.StatusTypeInactive}); err != nil {
						return fmt.Errorf("deactivate access key %s of %s: %w", id, u.Name, err)
					}
				}
			}
		case evCreateCerts:
			return createEach(e, "signing certificate", res.Certs, func(i int) bool { return u.Certs[i].Inactive },
				func(int) (string, error) {
					body, err := selfSignedCertificatePEM(u.Name)
					if err != nil {
						return "", err
					}
					out, err := client.UploadSigningCertificate(ctx, &iam.UploadSigningCertificateInput{UserName: aws.String(u.Name), CertificateBody: aws.String(body)})
					if err != nil {
						return "", err
					}
					return aws.ToString(out.Certificate.CertificateId), nil
				},
				func(id string) error {
					_, err := client.UpdateSigningCertificate(ctx, &iam.UpdateSigningCertificateInput{UserName: aws.String(u.Name), CertificateId: aws.String(id), Status: types.StatusTypeInactive})
					return err
				})
		case evCreateServiceCredentials:
			return createEach(e, "service-specific credential", res.ServiceCredentials, func(i int) bool { return u.ServiceCredentials[i].Inactive },
				func(i int) (string, error) {
					c := u.ServiceCredentials[i]
					in := &iam.CreateServiceSpecificCredentialInput{UserName: aws.String(u.Name), ServiceName: aws.String(c.Service)}
					if c.ExpiresAfterDays > 0 {
						in.CredentialAgeDays = aws.Int32(int32(c.ExpiresAfterDays))
					}
					out, err := client.CreateServiceSpecificCredential(ctx, in)
					if err != nil {
						return "", fmt.Errorf("%s: %w", c.Service, err)
					}
					return aws.ToString(out.ServiceSpecificCredential.ServiceSpecificCredentialId), nil
				},
				func(id string) error {
					_, err := client.UpdateServiceSpecificCredential(ctx, &iam.UpdateServiceSpecificCredentialInput{UserName: aws.String(u.Name), ServiceSpecificCredentialId: aws.String(id), Status: types.StatusTypeInactive})
					return err
				})
		case evUploadSSHKeys:
			return createEach(e, "SSH key", res.SSHKeys, func(i int) bool { return u.SSHKeys[i].Inactive },
				func(int) (string, error) {
					body, err := sshRSAPublicKey(u.Name)
					if err != nil {
						return "", err
					}
					out, err := client.UploadSSHPublicKey(ctx, &iam.UploadSSHPublicKeyInput{UserName: aws.String(u.Name), SSHPublicKeyBody: aws.String(body)})
					if err != nil {
						return "", err
					}
					return aws.ToString(out.SSHPublicKey.SSHPublicKeyId), nil
				},
				func(id string) error {
					_, err := client.UpdateSSHPublicKey(ctx, &iam.UpdateSSHPublicKeyInput{UserName: aws.String(u.Name), SSHPublicKeyId: aws.String(id), Status: types.StatusTypeInactive})
					return err
				})
		case evUseKeys:
			for _, i := range e.keys {
				mu.Lock()
				id := keys[u.Name][i]
				secret := secrets[id]
				mu.Unlock()
				// Any request signed with the key marks it used.
				if _, err := sts.NewFromConfig(m.ConfigWithKey(t, id, secret)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
					return fmt.Errorf("use access key %s of %s: %w", id, u.Name, err)
				}
			}
		case evUsePassword:
			if err := m.markPasswordUsed(account, u.Name); err != nil {
				return fmt.Errorf("mark password of %s used: %w", u.Name, err)
			}
		}
		return nil
	}

	// Events are sorted oldest day first, then by kind; each run of one day
	// and kind is sent concurrently.
	for start := 0; start < len(ev); {
		end := start
		for end < len(ev) && ev[end].daysAgo == ev[start].daysAgo && ev[end].kind == ev[start].kind {
			end++
		}
		if start == 0 || ev[start].daysAgo != ev[start-1].daysAgo {
			m.SetClock(t, DaysAgo(ev[start].daysAgo))
		}
		var g errgroup.Group
		g.SetLimit(seedParallel)
		for _, e := range ev[start:end] {
			g.Go(func() error { return do(e) })
		}
		if err := g.Wait(); err != nil {
			m.SetClock(t, "+0")
			t.Fatalf("seed at %s: %v", DaysAgo(ev[start].daysAgo), err)
		}
		start = end
	}
	m.SetClock(t, "+0")
	return res
}

type seedKind int

// The order of kinds within one day: a user exists before its
// credentials, a key before its use.
const (
	evCreateUser seedKind = iota
	evCreateKeys
	evCreateCerts
	evCreateServiceCredentials
	evUploadSSHKeys
	evUseKeys
	evUsePassword
)

type seedEvent struct {
	daysAgo int
	kind    seedKind
	user    int // index into the users
	// keys are indexes, in order, into the user's Keys (evCreateKeys,
	// evUseKeys), Certs, ServiceCredentials or SSHKeys.
	keys []int
}

// seedEvents checks users and lists what Seed does, oldest first.
func seedEvents(users []SeedUser) ([]seedEvent, error) {
	var ev []seedEvent
	seen := map[string]bool{}
	for ui, u := range users {
		if u.Name == "" {
			return nil, fmt.Errorf("user %d has no name", ui)
		}
		if seen[u.Name] {
			return nil, fmt.Errorf("user %s appears twice", u.Name)
		}
		seen[u.Name] = true
		if len(u.Keys) > 2 {
			return nil, fmt.Errorf("user %s: %d keys, IAM allows 2", u.Name, len(u.Keys))
		}
		created := u.CreatedDaysAgo
		if u.PasswordAgeDays >= 0 {
			if created != 0 && created != u.PasswordAgeDays {
				return nil, fmt.Errorf("user %s: CreatedDaysAgo %d differs from PasswordAgeDays %d, but moto reports password_last_changed as the user's creation time", u.Name, created, u.PasswordAgeDays)
			}
			created = u.PasswordAgeDays
		}
		if len(u.Certs) > 2 {
			return nil, fmt.Errorf("user %s: %d signing certificates, IAM allows 2", u.Name, len(u.Certs))
		}
		if len(u.SSHKeys) > 5 {
			return nil, fmt.Errorf("user %s: %d SSH keys, IAM allows 5", u.Name, len(u.SSHKeys))
		}
		perService := map[string]int{}
		for ci, c := range u.ServiceCredentials {
			if c.Service == "" {
				return nil, fmt.Errorf("user %s service-specific credential %d: no Service", u.Name, ci+1)
			}
			if perService[c.Service]++; perService[c.Service] > 2 {
				return nil, fmt.Errorf("user %s: more than 2 credentials for %s, IAM allows 2", u.Name, c.Service)
			}
			if c.ExpiresAfterDays < 0 {
				return nil, fmt.Errorf("user %s service-specific credential %d: negative ExpiresAfterDays %d", u.Name, ci+1, c.ExpiresAfterDays)
			}
		}
		// created is raised to the oldest credential's age, which must not
		// be older than a password.
		byDay := map[seedKind]map[int][]int{}
		add := func(kind seedKind, what string, i, age int) error {
			if age < 0 {
				return fmt.Errorf("user %s %s %d: negative AgeDays %d", u.Name, what, i+1, age)
			}
			if age > created {
				if u.PasswordAgeDays >= 0 {
					return fmt.Errorf("user %s %s %d: %d days old, older than the user's password (%d days), which moto dates from the user's creation", u.Name, what, i+1, age, u.PasswordAgeDays)
				}
				created = age
			}
			if byDay[kind] == nil {
				byDay[kind] = map[int][]int{}
			}
			byDay[kind][age] = append(byDay[kind][age], i)
			return nil
		}
		usedByDay := map[int][]int{}
		for ki, k := range u.Keys {
			if err := add(evCreateKeys, "key", ki, k.AgeDays); err != nil {
				return nil, err
			}
			if k.LastUsedDaysAgo > k.AgeDays {
				return nil, fmt.Errorf("user %s key %d: last used %d days ago, before it was created %d days ago", u.Name, ki+1, k.LastUsedDaysAgo, k.AgeDays)
			}
			if k.LastUsedDaysAgo >= 0 {
				usedByDay[k.LastUsedDaysAgo] = append(usedByDay[k.LastUsedDaysAgo], ki)
			}
		}
		for ci, c := range u.Certs {
			if err := add(evCreateCerts, "signing certificate", ci, c.AgeDays); err != nil {
				return nil, err
			}
		}
		for ci, c := range u.ServiceCredentials {
			if err := add(evCreateServiceCredentials, "service-specific credential", ci, c.AgeDays); err != nil {
				return nil, err
			}
		}
		for ki, k := range u.SSHKeys {
			if err := add(evUploadSSHKeys, "SSH key", ki, k.AgeDays); err != nil {
				return nil, err
			}
		}
		ev = append(ev, seedEvent{daysAgo: created, kind: evCreateUser, user: ui})
		for kind, days := range byDay {
			for d, ks := range days {
				ev = append(ev, seedEvent{daysAgo: d, kind: kind, user: ui, keys: ks})
			}
		}
		for d, ks := range usedByDay {
			ev = append(ev, seedEvent{daysAgo: d, kind: evUseKeys, user: ui, keys: ks})
		}
		if u.PasswordAgeDays >= 0 && u.PasswordLastUsedDaysAgo >= 0 {
			if u.PasswordLastUsedDaysAgo > u.PasswordAgeDays {
				return nil, fmt.Errorf("user %s: password last used %d days ago, before it was set %d days ago", u.Name, u.PasswordLastUsedDaysAgo, u.PasswordAgeDays)
			}
			ev = append(ev, seedEvent{daysAgo: u.PasswordLastUsedDaysAgo, kind: evUsePassword, user: ui})
		}
	}
	slices.SortStableFunc(ev, func(a, b seedEvent) int {
		return cmp.Or(cmp.Compare(b.daysAgo, a.daysAgo), cmp.Compare(a.kind, b.kind), cmp.Compare(a.user, b.user))
	})
	return ev, nil
}

// createOnce runs a create call, counting the SDK's attempts: an
// EntityAlreadyExists answer to a retry is the first attempt's own effect
// (its answer lost on a loaded machine), since the seed creates each user
// and login profile once; a create the SDK did not retry still fails on
// it.
func createOnce(call func(optFns ...func(*iam.Options)) error) error {
	attempts := 0
	count := func(o *iam.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("SeedAttempts",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					attempts++
					return next.HandleFinalize(ctx, in)
				}), middleware.After)
		})
	}
	err := call(count)
	var exists *types.EntityAlreadyExistsException
	if errors.As(err, &exists) && attempts > 1 {
		return nil
	}
	return err
}

// CompliantPasswordPolicy gives the account that cfg signs for a password
// policy that passes the password_policy rule's defaults (CIS 1.8: at
// least 14 characters; CIS 1.9: the last 24 passwords not reused), and
// nothing else (no maximum age). moto's accounts have no password policy,
// so IAM's defaults apply and each account has a password_policy finding:
// tests about something else call this for each account they scan, so
// that they count only the findings they are about.
func (m *MotoServer) CompliantPasswordPolicy(t testing.TB, cfg aws.Config) {
	t.Helper()
	if _, err := iam.NewFromConfig(cfg).UpdateAccountPasswordPolicy(context.Background(), &iam.UpdateAccountPasswordPolicyInput{
		MinimumPasswordLength: aws.Int32(14), PasswordReusePrevention: aws.Int32(24),
	}); err != nil {
		t.Fatalf("set a compliant password policy: %v", err)
	}
}
