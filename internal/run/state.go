package run

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/keywarden/keywarden/internal/state"
	"github.com/keywarden/keywarden/internal/state/memstore"
	"github.com/keywarden/keywarden/internal/state/sqlite"
)

// OpenState opens the store a state URL names: sqlite://PATH (a local
// file, created when missing). readOnly opens it without changing it, for
// dry runs: a file that does not exist yet reads as empty state (an
// in-memory store), and nothing is created.
func OpenState(ctx context.Context, url string, readOnly bool) (state.Store, error) {
	switch {
	case strings.HasPrefix(url, "sqlite://"):
		path := strings.TrimPrefix(url, "sqlite://")
		s, err := sqlite.Open(ctx, path, sqlite.Options{ReadOnly: readOnly})
		if readOnly && errors.Is(err, os.ErrNotExist) {
			return memstore.New(), nil
		}
		if err != nil {
			return nil, err
		}
		return s, nil
	case strings.HasPrefix(url, "dynamodb://"):
		return nil, fmt.Errorf("state %s: DynamoDB state is not available in this version of keywarden; use sqlite://PATH", url)
	}
	return nil, fmt.Errorf("state %q: want sqlite://PATH", url)
}
