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

// round is requests of one account sent together (the concurrent
// ListAccessKeys of a key lookup), or one request.
type round struct {
	op    string
	n     int
	at    time.Time
	next  time.Duration // until the account's next round arrives; 0 for the last
	index int
}

// rounds groups an account's requests (in arrival order) into rounds:
// requests of the same operation arriving within window of the round's
// first.
func rounds(ops []testenv.Op, window time.Duration) []round {
	var rs []round
	for _, op := range ops {
		if k := len(rs) - 1; k >= 0 && rs[k].op == op.Operation && op.At.Sub(rs[k].at) <= window {
			rs[k].n++
			continue
		}
		rs = append(rs, round{op: op.Operation, n: 1, at: op.At, index: len(rs)})
	}
	for i := 0; i+1 < len(rs); i++ {
		rs[i].next = rs[i+1].at.Sub(rs[i].at)
	}
	return rs
}

// trace says where a keywarden run's wall time went, from the arrival
// times of its requests at the proxy: the time before the first request
// and after the last, the two passes (AssumeRole, GetCallerIdentity,
// GenerateCredentialReport in every account; then the rest), and per
// operation the mean time from an account's request to its next one
// (delay, server and transfer time, and keywarden's own work before it
// sends the next), over the accounts.
func trace(r measured, delay time.Duration) string {
	if len(r.ops) == 0 {
		return r.name + ": no requests"
	}
	byAccount := map[string][]testenv.Op{}
	for _, op := range r.ops {
		byAccount[chainOf(op)] = append(byAccount[chainOf(op)], op)
	}
	end := r.start.Add(r.wall)
	first, last := r.ops[0].At, r.ops[0].At
	var pass1End, pass2Start time.Time
	type agg struct {
		n     int
		total time.Duration
	}
	gaps := map[string]*agg{}
	var order []string
	var pass1, pass2 time.Duration
	var accts, trips int
	for acct, ops := range byAccount {
		slices.SortFunc(ops, func(a, b testenv.Op) int { return a.At.Compare(b.At) })
		for _, op := range ops {
			if op.At.Before(first) {
				first = op.At
			}
			if op.At.After(last) {
				last = op.At
			}
		}
		if acct == "" {
			continue
		}
		accts++
		rs := rounds(ops, max(delay/4, time.Millisecond))
		trips += len(rs)
		// Pass 1 ends with GenerateCredentialReport's answer, pass 2
		// starts with GetCredentialReport (or a second
		// GenerateCredentialReport).
		split := slices.IndexFunc(rs, func(x round) bool { return x.op == "GenerateCredentialReport" })
		for i, x := range rs {
			name := x.op
			if x.n > 1 {
				name = fmt.Sprintf("%s ×%d", x.op, x.n)
			}
			if x.op == "ListAccessKeys" {
				name = "ListAccessKeys round"
			}
			switch {
			case i == split:
				name = "GenerateCredentialReport (end of pass 1)"
				if i+1 < len(rs) {
					pass1 += x.at.Sub(rs[0].at) + delay
					if rs[i+1].at.Before(pass2Start) || pass2Start.IsZero() {
						pass2Start = rs[i+1].at
					}
					pass2 += ops[len(ops)-1].At.Sub(rs[i+1].at) + delay
				}
				if x.at.After(pass1End) {
					pass1End = x.at
				}
				continue // its next is the wait between passes
			case i == len(rs)-1:
				continue
			}
			if gaps[name] == nil {
				gaps[name] = &agg{}
				order = append(order, name)
			}
			gaps[name].n++
			gaps[name].total += x.next
		}
	}
	var s strings.Builder
	fmt.Fprintf(&s, "trace of %q (delay %s, wall %.2f s, keywarden CPU %.2f s, proxy CPU %.2f s, moto CPU %.2f s):\n",
		r.name, delay, r.wall.Seconds(), r.cpu.Seconds(), r.proxyCPU.Seconds(), r.motoCPU.Seconds())
	fmt.Fprintf(&s, "  start → first request %.0f ms; last request → exit %.0f ms\n",
		ms(first.Sub(r.start)), ms(end.Sub(last)))
	if accts > 0 {
		fmt.Fprintf(&s, "  pass 1 until +%.2f s, pass 2 from +%.2f s; per account (mean of %d): pass 1 %.0f ms, pass 2 %.0f ms, %.1f round trips one after the other (%.0f ms of delay)\n",
			pass1End.Add(delay).Sub(r.start).Seconds(), pass2Start.Sub(r.start).Seconds(), accts,
			ms(pass1)/float64(accts), ms(pass2)/float64(accts), float64(trips)/float64(accts), ms(delay)*float64(trips)/float64(accts))
	}
	s.WriteString("  mean time from an account's request to its next, per operation:")
	for _, name := range order {
		g := gaps[name]
		fmt.Fprintf(&s, " %s %.1f ms (n %d);", name, ms(g.total)/float64(g.n), g.n)
	}
	return strings.TrimSuffix(s.String(), ";")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
