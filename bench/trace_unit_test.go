package bench

import (
	"slices"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/testenv"
)

// TestStretches: overlapping requests of an account are one round trip,
// ended by the answer that came last; a request sent after an answer
// starts the next.
func TestStretches(t *testing.T) {
	t0 := time.Unix(0, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	op := func(name string, from, to int) testenv.Op {
		return testenv.Op{Operation: name, At: at(from), Done: at(to)}
	}
	got := stretches([]testenv.Op{
		op("GetCredentialReport", 0, 20),
		op("ListAccessKeys", 30, 50), op("ListAccessKeys", 31, 55), op("ListAccessKeys", 40, 52),
		op("ListAccessKeys", 55, 75), // sent as the last answer came: still in flight together
		op("ListAccountAliases", 90, 110),
	})
	want := []stretch{{at(0), at(20), "GetCredentialReport"}, {at(30), at(75), "ListAccessKeys"}, {at(90), at(110), "ListAccountAliases"}}
	if !slices.Equal(got, want) {
		t.Errorf("stretches = %v; want %v", got, want)
	}
}

// TestSequentialRounds: requests in flight together are one round; a
// request sent after an answer is a round after it, whatever else was in
// flight; the longest such chain counts, not the number of stretches with
// a request in flight.
func TestSequentialRounds(t *testing.T) {
	t0 := time.Unix(0, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	op := func(from, to int) testenv.Op { return testenv.Op{At: at(from), Done: at(to)} }
	for _, tc := range []struct {
		name string
		ops  []testenv.Op
		want int
	}{
		{"none", nil, 0},
		{"one", []testenv.Op{op(0, 20)}, 1},
		{"in flight together", []testenv.Op{op(0, 20), op(1, 25), op(2, 22)}, 1},
		{"one after the other", []testenv.Op{op(0, 20), op(21, 40), op(41, 60)}, 3},
		// Three rounds of lookups two at a time, each sent as one of the
		// round before was answered, all overlapping: one stretch in
		// flight, three rounds.
		{"rounds that overlap", []testenv.Op{op(0, 20), op(0, 30), op(21, 41), op(31, 51), op(42, 62), op(52, 72)}, 3},
		// Sent as the answer came (the same instant): not after it.
		{"sent as the answer came", []testenv.Op{op(0, 20), op(20, 40)}, 1},
		// Out of arrival order.
		{"unsorted", []testenv.Op{op(41, 60), op(0, 20), op(21, 40)}, 3},
	} {
		if got := sequentialRounds(tc.ops); got != tc.want {
			t.Errorf("%s: sequentialRounds = %d; want %d", tc.name, got, tc.want)
		}
	}
	overlapping := []testenv.Op{op(0, 20), op(0, 30), op(21, 41), op(31, 51), op(42, 62), op(52, 72)}
	if n := len(stretches(overlapping)); n != 1 {
		t.Errorf("stretches of overlapping rounds = %d; want 1 (what the old round-trip count reported)", n)
	}
}
