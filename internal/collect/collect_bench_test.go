package collect

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/policy"
	"github.com/keywarden/keywarden/internal/testenv"
)

// benchUsers is the size of the account BenchmarkCollect2000Users scans.
const benchUsers = 2000

// seedBenchAccount describes n users: one or two keys of ages spread over
// 180 days, some never used, a quarter with a console password, tags on all,
// in one of two groups.
func seedBenchAccount(n int) []testenv.SeedUser {
	users := make([]testenv.SeedUser, n)
	for i := range users {
		age := i % 180
		used := age / 2
		if i%5 == 0 {
			used = -1
		}
		u := testenv.SeedUser{
			Name:                    fmt.Sprintf("user%04d", i),
			Tags:                    map[string]string{"Email": fmt.Sprintf("user%04d@example.com", i), "Team": fmt.Sprintf("team%d", i%12)},
			Groups:                  []string{"devs"},
			Keys:                    []testenv.SeedKey{{AgeDays: age, LastUsedDaysAgo: used}},
			PasswordAgeDays:         -1,
			PasswordLastUsedDaysAgo: -1,
		}
		if i%10 == 0 {
			u.Groups = []string{"admins"}
		}
		if i%7 == 0 {
			u.Keys = append(u.Keys, testenv.SeedKey{AgeDays: age / 2, LastUsedDaysAgo: -1, Inactive: i%14 == 0})
		}
		if i%4 == 0 {
			u.PasswordAgeDays, u.PasswordLastUsedDaysAgo = age+10, age/3
		}
		users[i] = u
	}
	return users
}

// BenchmarkCollect2000Users scans a moto account of 2,000 users: a Snapshot,
// then key IDs for the users with an access-key finding under the default
// policy. It reports the API calls per scan
// next to the budget, 4 + R + max(1, ceil(N/1000)) + F + S with R = 2
// report calls (moto's report is ready when first looked at) and S = 1
// page of service-specific credentials (the account has none). It seeds moto once,
// which takes a while; run it with
//
//	go test -run '^$' -bench Collect2000Users ./internal/collect/
func BenchmarkCollect2000Users(b *testing.B) {
	m := testenv.Moto(b)
	start := time.Now()
	m.Seed(b, seedBenchAccount(benchUsers))
	b.Logf("seeded %d users in %s", benchUsers, time.Since(start).Round(time.Millisecond))

	ctx := context.Background()
	counter := awsapi.NewCounter()
	c := motoCollector(b, m, counter, nil)
	var users, flagged, snapshotCalls int
	for b.Loop() {
		before := counter.Total()
		snap, err := c.Snapshot(ctx)
		if err != nil {
			b.Fatal(err)
		}
		snapshotCalls += counter.Total() - before
		// The users whose key IDs a scan looks up: those with an
		// access-key finding under the default policy.
		var names []string
		for _, f := range policy.Evaluate(snap, config.Default(), time.Now()) {
			if f.Credential == policy.CredentialAccessKey && !slices.Contains(names, f.User) {
				names = append(names, f.User)
			}
		}
		if err := c.ResolveKeyIDs(ctx, snap, names); err != nil {
			b.Fatal(err)
		}
		users, flagged = len(snap.Users), len(names)
	}
	if users != benchUsers {
		b.Fatalf("Snapshot() has %d users; want %d", users, benchUsers)
	}
	perOp := float64(counter.Total()) / float64(b.N)
	const serviceCredentials = 0 // seedBenchAccount seeds none
	budget := 4 + 2 + max(1, (users+999)/1000) + flagged + max(1, (serviceCredentials+999)/1000)
	b.ReportMetric(perOp, "api-calls/op")
	b.ReportMetric(float64(snapshotCalls)/float64(b.N), "snapshot-calls/op")
	b.ReportMetric(float64(budget), "call-budget")
	b.ReportMetric(float64(flagged), "flagged-users")
	if perOp > float64(budget) {
		b.Errorf("%.1f API calls per scan %v; want at most %d", perOp, counter.ByOperation(), budget)
	}
}
