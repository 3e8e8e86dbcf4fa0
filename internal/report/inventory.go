package report

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/keywarden/keywarden/internal/config"
	"github.com/keywarden/keywarden/internal/forecast"
	"github.com/keywarden/keywarden/internal/inventory"
	"github.com/keywarden/keywarden/internal/policy"
)

// UpcomingDays is how many days Inventory.Upcoming (and the HTML report's
// calendar) covers: as_of's UTC day and the days after it.
const UpcomingDays = 30

// Inventory describes every credential a scan saw, not only the flagged
// ones: the HTML report's key-age histogram needs the ages of all active
// keys and the stage thresholds they are measured against. Its JSON form is
// the optional "inventory" object of keywarden.report/v1.
type Inventory struct {
	// ActiveKeyAges counts the IAM users' active access keys by class and
	// age in whole days as of the report's as_of (root's keys are not
	// counted: root_access_key covers them). Sorted by class, then age.
	ActiveKeyAges []KeyAgeCount `json:"active_key_ages"`
	// InactiveKeys counts the IAM users' inactive access keys.
	InactiveKeys int `json:"inactive_keys"`
	// KeyAgeStages are the access_key_age stages of every class the
	// config names, sorted by at. A class without an entry uses "human".
	KeyAgeStages map[string][]config.Stage `json:"key_age_stages"`
	// Upcoming are the stage changes from as_of to the end of the
	// UpcomingDays days that start with as_of's UTC day, exactly as
	// `keywarden forecast` lists them (forecast.New over the same
	// snapshots): credentials that start to break a rule, further stages,
	// exemptions that end; exempt ones included. The HTML report's
	// calendar counts those that are not exempt.
	Upcoming []forecast.Event `json:"upcoming"`
}

// KeyAgeCount is the number of active access keys of one class that are
// AgeDays old.
type KeyAgeCount struct {
	Class   string `json:"class"`
	AgeDays int    `json:"age_days"`
	Keys    int    `json:"keys"`
}

// NewInventory counts the access keys of snaps as of asOf, with the
// access_key_age stages of cfg, and steps snaps through the coming days for
// Upcoming. Keys without a creation date are not counted. It never returns
// nil, and its slices and maps are never nil.
func NewInventory(cfg *config.Config, asOf time.Time, snaps ...*inventory.Snapshot) *Inventory {
	inv := &Inventory{
		ActiveKeyAges: []KeyAgeCount{},
		KeyAgeStages:  map[string][]config.Stage{},
		Upcoming:      upcoming(cfg, asOf, snaps),
	}
	var classes []config.Class
	if cfg != nil {
		classes = cfg.Classes
		for class, stages := range cfg.Rules.AccessKeyAge {
			s := slices.Clone(stages)
			slices.SortStableFunc(s, func(a, b config.Stage) int { return cmp.Compare(a.At, b.At) })
			inv.KeyAgeStages[class] = s
		}
	}
	type key struct {
		class string
		age   int
	}
	counts := map[key]int{}
	for _, snap := range snaps {
		if snap == nil {
			continue
		}
		for i := range snap.Users {
			u := &snap.Users[i]
			if u.IsRoot() {
				continue
			}
			class := policy.ClassOf(u, classes)
			for _, k := range u.AccessKeys {
				switch {
				case k.CreatedAt.IsZero():
				case !k.Active:
					inv.InactiveKeys++
				default:
					counts[key{class, policy.AgeDays(k.CreatedAt, asOf)}]++
				}
			}
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(counts), func(a, b key) int {
		return cmp.Or(cmp.Compare(a.class, b.class), cmp.Compare(a.age, b.age))
	}) {
		inv.ActiveKeyAges = append(inv.ActiveKeyAges, KeyAgeCount{Class: k.class, AgeDays: k.age, Keys: counts[k]})
	}
	return inv
}

// upcoming is the forecast of snaps under cfg for the UpcomingDays days
// that start with asOf's UTC day.
func upcoming(cfg *config.Config, asOf time.Time, snaps []*inventory.Snapshot) []forecast.Event {
	_, end := upcomingDays(asOf)
	out := []forecast.Event{}
	for _, e := range forecast.New(snaps, cfg, asOf, asOf, UpcomingDays).Events {
		if e.On.Before(end) {
			out = append(out, e)
		}
	}
	return out
}

// upcomingDays are the first and the day after the last of the
// UpcomingDays days that start with asOf's UTC day (midnight UTC).
func upcomingDays(asOf time.Time) (start, end time.Time) {
	a := asOf.UTC()
	start = time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 0, UpcomingDays)
}
