package collect

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
	"golang.org/x/sync/errgroup"

	"github.com/keywarden/keywarden/internal/inventory"
)

// ResolveKeyIDs fills AccessKey.ID of the named users' report slots, with
// one ListAccessKeys (paginated) per user, run concurrently up to
// KeyLookupParallel. A key is matched to the slot whose creation time
// (the report's access_key_N_last_rotated) equals its CreateDate to the
// second; when exactly one key and one slot are left unmatched, they are
// paired. Users not in snap, and users deleted since the snapshot, are
// skipped with a debug log; other slots left unmatched are logged.
func (c *Collector) ResolveKeyIDs(ctx context.Context, snap *inventory.Snapshot, users []string) error {
	log := c.logger().With("account", snap.AccountID)
	index := make(map[string]int, len(snap.Users))
	for i, u := range snap.Users {
		index[u.Name] = i
	}

	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(orDefault(c.KeyLookupParallel, DefaultKeyLookupParallel))
	seen := map[string]bool{}
	for _, name := range users {
		i, ok := index[name]
		if !ok {
			log.Debug("no such user in the snapshot; not resolving its key IDs", "user", name)
			continue
		}
		if seen[name] || len(snap.Users[i].AccessKeys) == 0 {
			continue
		}
		seen[name] = true
		// Each goroutine writes only its own user's slots.
		u := &snap.Users[i]
		g.Go(func() error {
			keys, err := c.listAccessKeys(ctx, u.Name)
			var noSuch *types.NoSuchEntityException
			switch {
			case errors.As(err, &noSuch):
				log.Debug("user deleted since the snapshot; not resolving its key IDs", "user", u.Name)
				return nil
			case err != nil:
				return fmt.Errorf("list access keys of %s in account %s: %w", u.Name, snap.AccountID, err)
			}
			for _, slot := range matchKeys(u.AccessKeys, keys) {
				log.Warn("cannot tell which access key is in this credential report slot", "user", u.Name, "slot", slot)
			}
			return nil
		})
	}
	return g.Wait()
}

func (c *Collector) listAccessKeys(ctx context.Context, user string) ([]types.AccessKeyMetadata, error) {
	var keys []types.AccessKeyMetadata
	p := iam.NewListAccessKeysPaginator(c.IAM, &iam.ListAccessKeysInput{UserName: aws.String(user)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		keys = append(keys, out.AccessKeyMetadata...)
	}
	return keys, nil
}

// matchKeys sets the ID of each slot without one to the key created in the
// same second (preferring a key whose status agrees with the slot when two
// share the second), then pairs a lone unmatched slot with a lone unmatched
// key. It returns the slots still unmatched.
func matchKeys(slots []inventory.AccessKey, keys []types.AccessKeyMetadata) (unmatched []int) {
	used := make([]bool, len(keys))
	for i := range slots {
		if slots[i].ID != "" {
			for j, k := range keys {
				if aws.ToString(k.AccessKeyId) == slots[i].ID {
					used[j] = true
				}
			}
		}
	}
	for i := range slots {
		s := &slots[i]
		if s.ID != "" {
			continue
		}
		best := -1
		for j, k := range keys {
			if used[j] || !sameSecond(aws.ToTime(k.CreateDate), s.CreatedAt) {
				continue
			}
			if best < 0 || (k.Status == types.StatusTypeActive) == s.Active {
				best = j
				if (k.Status == types.StatusTypeActive) == s.Active {
					break
				}
			}
		}
		if best >= 0 {
			used[best] = true
			s.ID = aws.ToString(keys[best].AccessKeyId)
		}
	}

	var freeSlots, freeKeys []int
	for i := range slots {
		if slots[i].ID == "" {
			freeSlots = append(freeSlots, i)
		}
	}
	for j := range keys {
		if !used[j] {
			freeKeys = append(freeKeys, j)
		}
	}
	if len(freeSlots) == 1 && len(freeKeys) == 1 {
		slots[freeSlots[0]].ID = aws.ToString(keys[freeKeys[0]].AccessKeyId)
		return nil
	}
	for _, i := range freeSlots {
		unmatched = append(unmatched, slots[i].Slot)
	}
	return unmatched
}

func sameSecond(a, b time.Time) bool {
	return !a.IsZero() && a.Truncate(time.Second).Equal(b.Truncate(time.Second))
}
