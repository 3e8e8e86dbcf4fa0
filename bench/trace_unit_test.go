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
