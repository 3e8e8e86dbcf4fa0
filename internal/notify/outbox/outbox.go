package outbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/keywarden/keywarden/internal/notify"
)

// Channel writes .eml files into Dir.
type Channel struct {
	dir string
}

var _ notify.Channel = (*Channel)(nil)

// New returns an outbox writing into dir (created on first use).
func New(dir string) *Channel { return &Channel{dir: dir} }

// Name implements notify.Channel.
func (c *Channel) Name() string { return "outbox" }

// Dir is the directory the outbox writes to.
func (c *Channel) Dir() string { return c.dir }

// Send implements notify.Channel. The file is named
// DAY_KIND_RECIPIENT_ID.eml, written beside its final name and renamed, so
// a reader never sees half a message. Files are readable by their owner
// only: they name people and credentials.
func (c *Channel) Send(_ context.Context, m *notify.Message) error {
	raw, err := m.MIME()
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	if err := os.MkdirAll(c.dir, 0o750); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	path := filepath.Join(c.dir, FileName(m))
	tmp, err := os.CreateTemp(c.dir, ".keywarden-*.eml.tmp")
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return fmt.Errorf("outbox: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("outbox: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("outbox: write %s: %w", path, err)
	}
	return nil
}

// FileName is the file a message is written to: its date, kind, first
// recipient and ID, with anything but letters, digits and @._+- replaced.
func FileName(m *notify.Message) string {
	to := "admins"
	if len(m.To) > 0 {
		to = m.To[0]
	}
	if m.Kind == notify.KindDigest {
		to = "admins"
	}
	day := "undated"
	if !m.Date.IsZero() {
		day = m.Date.UTC().Format("20060102T150405Z")
	}
	name := day + "_" + string(m.Kind) + "_" + to + "_" + m.ID
	name = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("@._+-", r):
			return r
		}
		return '_'
	}, name)
	if len(name) > 200 {
		name = name[:200]
	}
	return name + ".eml"
}
