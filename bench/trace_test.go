package bench

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/testenv"
)

var roleAccount = regexp.MustCompile(`^arn:[^:]+:iam::([0-9]{12}):role/`)

// chainOf is the account whose sequence of calls op belongs to: the
// role's account for an AssumeRole (the caller makes it for that
// account), "" for the caller's discovery calls.
func chainOf(op testenv.Op) string {
	if op.Name() == "sts:AssumeRole" {
		if m := roleAccount.FindStringSubmatch(op.Params.Get("RoleArn")); m != nil {
			return m[1]
		}
	}
	if op.Account == testenv.AccountID {
		return ""
	}
	return op.Account
}

// stretch is a time during which one account had at least one request
// in flight; last is the operation whose answer ended it.
type stretch struct {
	from, to time.Time
	last     string
}

// stretches merges the [At, Done] intervals of an account's requests (in
// arrival order): requests in flight together make one stretch (a key
// lookup, which keeps up to 8 ListAccessKeys in flight, is mostly one),
// and one request after another makes one stretch each.
func stretches(ops []testenv.Op) []stretch {
	var out []stretch
	for _, op := range ops {
		done := op.Done
		if done.IsZero() {
			done = op.At
		}
		if k := len(out) - 1; k >= 0 && !op.At.After(out[k].to) {
			if done.After(out[k].to) {
				out[k].to, out[k].last = done, op.Operation
			}
			continue
		}
		out = append(out, stretch{from: op.At, to: done, last: op.Operation})
	}
	return out
}

// sequentialRounds is the longest chain of requests each sent after the
// one before it in the chain was answered: the round trips a run made one
// after the other. Requests in flight together are one round; a request
// sent once an answer came is a round after that answer's.
func sequentialRounds(ops []testenv.Op) int {
	ops = slices.SortedFunc(slices.Values(ops), func(a, b testenv.Op) int { return a.At.Compare(b.At) })
	depth := make([]int, len(ops))
	longest := 0
	for i, op := range ops {
		depth[i] = 1
		for j := range i {
			if done := ops[j].Done; !done.IsZero() && done.Before(op.At) {
				depth[i] = max(depth[i], depth[j]+1)
			}
		}
		longest = max(longest, depth[i])
	}
	return longest
}

// mean is a running mean of durations, by name, in first-seen order.
type mean struct {
	names []string
	n     map[string]int
	sum   map[string]time.Duration
}

func (m *mean) add(name string, d time.Duration) {
	if m.n == nil {
		m.n, m.sum = map[string]int{}, map[string]time.Duration{}
	}
	if _, ok := m.n[name]; !ok {
		m.names = append(m.names, name)
	}
	m.n[name]++
	m.sum[name] += d
}

func (m *mean) String() string {
	var parts []string
	for _, k := range m.names {
		parts = append(parts, fmt.Sprintf("%s %.1f ms", k, ms(m.sum[k])/float64(m.n[k])))
	}
	return strings.Join(parts, ", ")
}

// passStats adds up one pass of the accounts.
type passStats struct {
	span, inFlight time.Duration
	stretches      int
	from, to       time.Time
}

func (ps *passStats) add(ops []testenv.Op, after *mean) {
	st := stretches(ops)
	if len(st) == 0 {
		return
	}
	if ps.from.IsZero() || st[0].from.Before(ps.from) {
		ps.from = st[0].from
	}
	if end := st[len(st)-1].to; end.After(ps.to) {
		ps.to = end
	}
	ps.span += st[len(st)-1].to.Sub(st[0].from)
	ps.stretches += len(st)
	for i, x := range st {
		ps.inFlight += x.to.Sub(x.from)
		if i+1 < len(st) {
			after.add(x.last, st[i+1].from.Sub(x.to))
		}
	}
}

// trace says where a keywarden run's wall time went, from when each of
// its requests reached the proxy and was answered: the time before the
// first request and after the last answer; the two passes (AssumeRole,
// GetCallerIdentity and GenerateCredentialReport in every account, then
// the rest), per account split into time with a request in flight
// (delay, and moto's time when live) and time between an answer and the
// account's next request (keywarden's own work, or its wait for a core);
// the answer time per operation; and keywarden's time after each
// operation's answer.
func trace(r measured, delay time.Duration) string {
	if len(r.ops) == 0 {
		return r.name + ": no requests"
	}
	byAccount := map[string][]testenv.Op{}
	var first, last time.Time
	var answer mean
	for _, op := range r.ops {
		byAccount[chainOf(op)] = append(byAccount[chainOf(op)], op)
		if first.IsZero() || op.At.Before(first) {
			first = op.At
		}
		if op.Done.After(last) {
			last = op.Done
		}
		answer.add(op.Operation, op.Done.Sub(op.At))
	}
	var p1, p2 passStats
	var after mean
	accts := 0
	for acct, ops := range byAccount {
		if acct == "" {
			continue
		}
		accts++
		slices.SortFunc(ops, func(a, b testenv.Op) int { return a.At.Compare(b.At) })
		split := 1 + slices.IndexFunc(ops, func(op testenv.Op) bool { return op.Operation == "GenerateCredentialReport" })
		p1.add(ops[:split], &after)
		p2.add(ops[split:], &after)
	}
	at := func(t time.Time) float64 { return t.Sub(r.start).Seconds() }
	perAccount := func(ps passStats) string {
		n := float64(accts)
		return fmt.Sprintf("%.0f ms = %.0f ms with a request in flight, in %.1f stretches one after the other, + %.0f ms between an answer and the next request",
			ms(ps.span)/n, ms(ps.inFlight)/n, float64(ps.stretches)/n, ms(ps.span-ps.inFlight)/n)
	}
	var s strings.Builder
	fmt.Fprintf(&s, "trace of %q (delay %s): wall %.2f s; CPU: keywarden %.2f s, proxy %.2f s, moto %.2f s\n",
		r.name, delay, r.wall.Seconds(), r.cpu.Seconds(), r.proxyCPU.Seconds(), r.motoCPU.Seconds())
	fmt.Fprintf(&s, "  start → first request %.0f ms; pass 1 +%.2f → +%.2f s; pass 2 +%.2f → +%.2f s; last answer → exit %.0f ms\n",
		ms(first.Sub(r.start)), at(p1.from), at(p1.to), at(p2.from), at(p2.to), ms(r.start.Add(r.wall).Sub(last)))
	if accts > 0 {
		fmt.Fprintf(&s, "  per account (mean of %d): pass 1 %s\n", accts, perAccount(p1))
		fmt.Fprintf(&s, "                          pass 2 %s\n", perAccount(p2))
	}
	fmt.Fprintf(&s, "  answer time (arrival → answered): %s\n", &answer)
	fmt.Fprintf(&s, "  keywarden's time from an answer to the account's next request, after: %s", &after)
	return s.String()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
