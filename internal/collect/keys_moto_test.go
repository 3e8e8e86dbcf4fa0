package collect

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/awsapi"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/testenv"
)

// inFlight is the most of the intervals [from[i], to[i]] that overlap at
// one time.
func inFlight(from, to []time.Time) int {
	most := 0
	for i := range from {
		n := 0
		for j := range from {
			if !from[j].After(from[i]) && to[j].After(from[i]) {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// lookups are the key lookups the proxy saw, by user: from the first
// ListAccessKeys request's arrival to the last one's answer, and whether
// the first was throttled (in the first throttled).
type lookup struct {
	user      string
	from, to  time.Time
	requests  int
	throttled bool
}

func lookups(p *testenv.Proxy, throttled int) []lookup {
	var out []lookup
	index := map[string]int{}
	for i, op := range ops(p, "iam:ListAccessKeys") {
		u := op.Params.Get("UserName")
		j, ok := index[u]
		if !ok {
			j = len(out)
			index[u] = j
			out = append(out, lookup{user: u, from: op.At, throttled: i < throttled})
		}
		out[j].requests++
		if op.Done.After(out[j].to) {
			out[j].to = op.Done
		}
	}
	return out
}

func lookupsInFlight(ls []lookup) int {
	var from, to []time.Time
	for _, l := range ls {
		from, to = append(from, l.from), append(to, l.to)
	}
	return inFlight(from, to)
}

// TestResolveKeyIDsMotoBacksOffWhenThrottled: 64 users' key IDs are looked
// up DefaultKeyLookupParallel (32) at once, not 8; when IAM throttles the
// first 32 calls, the SDK retries them, the lookups started after them
// keep to half the limit (plus what it grows back by), and every key is
// still resolved. Throttling is injected by the proxy; every
// ListAccessKeys answer takes 20 ms, a throttled one 100 ms more.
func TestResolveKeyIDsMotoBacksOffWhenThrottled(t *testing.T) {
	const n, limit = 64, DefaultKeyLookupParallel
	m := testenv.Moto(t)
	var seed []testenv.SeedUser
	for i := range n {
		seed = append(seed, testenv.SeedUser{Name: fmt.Sprintf("user%02d", i), Keys: []testenv.SeedKey{{AgeDays: 100, LastUsedDaysAgo: 1}}, PasswordAgeDays: -1, PasswordLastUsedDaysAgo: -1})
	}
	ids := m.Seed(t, seed)
	p := m.NewProxy(t)
	c := proxyCollector(t, m, p, awsapi.NewCounter())
	snap, err := c.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range snap.Users {
		names = append(names, u.Name)
	}
	resolve := func() {
		t.Helper()
		for i := range snap.Users {
			for j := range snap.Users[i].AccessKeys {
				snap.Users[i].AccessKeys[j].ID = ""
			}
		}
		p.Reset()
		if err := c.ResolveKeyIDs(context.Background(), snap, names); err != nil {
			t.Fatal(err)
		}
		if unresolved := unresolvedKeys(snap, ids); len(unresolved) > 0 {
			t.Errorf("keys not resolved to the seeded IDs: %v", unresolved)
		}
	}

	p.Inject(testenv.Fault{Match: testenv.IsOp("iam:ListAccessKeys"), Times: limit, Code: "Throttling", Message: "Rate exceeded", Delay: 120 * time.Millisecond})
	p.Inject(testenv.Fault{Match: testenv.IsOp("iam:ListAccessKeys"), Delay: 20 * time.Millisecond})
	start := time.Now()
	resolve()
	t.Logf("resolved %d users' key IDs in %s", n, time.Since(start))
	ls := lookups(p, limit)
	var first, rest []lookup
	for _, l := range ls {
		if l.throttled {
			first = append(first, l)
		} else {
			rest = append(rest, l)
		}
	}
	if len(ls) != n || len(first) != limit {
		t.Fatalf("%d users looked up, %d of them first throttled; want %d and %d", len(ls), len(first), n, limit)
	}
	if calls := len(ops(p, "iam:ListAccessKeys")); calls != n+limit {
		t.Errorf("ListAccessKeys requests = %d; want %d: one per user, and one retry of each throttled one", calls, n+limit)
	}
	for _, l := range first {
		if l.requests != 2 {
			t.Errorf("%s: %d requests; want 2 (throttled, then retried by the SDK)", l.user, l.requests)
		}
	}
	if got := lookupsInFlight(first); got != limit {
		t.Errorf("lookups in flight at once before the throttling = %d; want %d", got, limit)
	}
	// Half of 32, plus at most what the 64 successes can grow it by:
	// one after 16, one after 17, one after 18.
	if got, most := lookupsInFlight(rest), limit/2+3; got > most {
		t.Errorf("lookups in flight at once after the throttling = %d; want at most %d (half the limit, grown back by at most 3)", got, most)
	}
	t.Logf("lookups in flight at once: %d before the throttling, %d after", lookupsInFlight(first), lookupsInFlight(rest))
}

// unresolvedKeys lists the users whose key IDs differ from the seeded ones.
func unresolvedKeys(snap *inventory.Snapshot, ids map[string][]string) []string {
	var bad []string
	for _, u := range snap.Users {
		var got []string
		for _, k := range u.AccessKeys {
			got = append(got, k.ID)
		}
		if !slices.Equal(got, ids[u.Name]) {
			bad = append(bad, fmt.Sprintf("%s %v (seeded %v)", u.Name, got, ids[u.Name]))
		}
	}
	return bad
}
