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
	// oldest key's age.
	CreatedDaysAgo int
}

// SeedKey describes one access key of a SeedUser.
type SeedKey struct {
	AgeDays         int
	LastUsedDaysAgo int // -1: never used
	Inactive        bool
}

// Seed creates users, keys, passwords, MFA devices, group memberships and
// tags in moto at backdated times, moving moto's clock to each distinct day
// once (oldest first) and back to +0 at the end. A key is marked used by
// signing a request (sts:GetCallerIdentity) with it while the clock is
// shifted; a password by the harness's test-only endpoint.
//
// It returns each user's access key IDs in the order of SeedUser.Keys.
// moto fills the report's key slots in creation order, so the oldest key is
// slot 1.
func (m *MotoServer) Seed(t testing.TB, users []SeedUser) map[string][]string {
	t.Helper()
	return m.SeedInto(t, m.Config(t), users)
}

// SeedInto is Seed in the account that cfg signs for: moto maps
// credentials from sts:AssumeRole to the role's account, so
// SeedInto(t, m.AssumeRoleConfig(t, arn), users) seeds a member account.
func (m *MotoServer) SeedInto(t testing.TB, cfg aws.Config, users []SeedUser) map[string][]string {
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

	keys := make(map[string][]string, len(users))
	secrets := map[string]string{}
	var mu sync.Mutex
	for _, u := range users {
		keys[u.Name] = make([]string, len(u.Keys))
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
	return keys
}

type seedKind int

// The order of kinds within one day: a user exists before its keys, a key
// before its use.
const (
	evCreateUser seedKind = iota
	evCreateKeys
	evUseKeys
	evUsePassword
)

type seedEvent struct {
	daysAgo int
	kind    seedKind
	user    int   // index into the users
	keys    []int // indexes into the user's Keys, in order
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
		byDay := map[int][]int{}
		usedByDay := map[int][]int{}
		for ki, k := range u.Keys {
			if k.AgeDays < 0 {
				return nil, fmt.Errorf("user %s key %d: negative AgeDays %d", u.Name, ki+1, k.AgeDays)
			}
			if k.LastUsedDaysAgo > k.AgeDays {
				return nil, fmt.Errorf("user %s key %d: last used %d days ago, before it was created %d days ago", u.Name, ki+1, k.LastUsedDaysAgo, k.AgeDays)
			}
			if k.AgeDays > created {
				if u.PasswordAgeDays >= 0 {
					return nil, fmt.Errorf("user %s key %d: %d days old, older than the user's password (%d days), which moto dates from the user's creation", u.Name, ki+1, k.AgeDays, u.PasswordAgeDays)
				}
				created = k.AgeDays
			}
			byDay[k.AgeDays] = append(byDay[k.AgeDays], ki)
			if k.LastUsedDaysAgo >= 0 {
				usedByDay[k.LastUsedDaysAgo] = append(usedByDay[k.LastUsedDaysAgo], ki)
			}
		}
		ev = append(ev, seedEvent{daysAgo: created, kind: evCreateUser, user: ui})
		for d, ks := range byDay {
			ev = append(ev, seedEvent{daysAgo: d, kind: evCreateKeys, user: ui, keys: ks})
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
