package outbox_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/notify/outbox"
	"github.com/keywarden/keywarden/internal/testenv"
)

func TestWritesOneFilePerMessage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out", "box")
	ch := outbox.New(dir)
	date := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	msgs := []*notify.Message{
		{Kind: notify.KindUser, ID: "r.u1", From: "sec@example.com", To: []string{"alice@example.com"}, Subject: "a", Text: "for alice", Date: date},
		{Kind: notify.KindUser, ID: "r.u2", From: "sec@example.com", To: []string{`"bob/../../x"@example.com`}, Subject: "b", Text: "for bob", HTML: "<p>b</p>", Date: date},
		{Kind: notify.KindDigest, ID: "r.d1", From: "sec@example.com", Subject: "digest", Text: "digest", Date: date,
			Attachments: []notify.Attachment{{Name: "keywarden-digest-2026-11-23.csv", Type: "text/csv", Data: []byte("kind\nfinding\n")}}},
	}
	for _, m := range msgs {
		if err := ch.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{
		"20261123T090000Z_digest_admins_r.d1.eml",
		"20261123T090000Z_user__bob_.._.._x_@example.com_r.u2.eml",
		"20261123T090000Z_user_alice@example.com_r.u1.eml",
	}
	if len(names) != len(want) {
		t.Fatalf("files = %v; want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Errorf("file %d = %q; want %q", i, names[i], want[i])
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, want[2]))
	if err != nil {
		t.Fatal(err)
	}
	if m := testenv.ParseMail(t, string(raw)); m.Text != "for alice" || m.Header.Get("To") != "<alice@example.com>" {
		t.Errorf("alice's .eml: To %q, text %q", m.Header.Get("To"), m.Text)
	}
	// The digest's .eml carries its CSV.
	raw, err = os.ReadFile(filepath.Join(dir, want[0]))
	if err != nil {
		t.Fatal(err)
	}
	if m := testenv.ParseMail(t, string(raw)); m.Text != "digest" || string(m.Attachments["keywarden-digest-2026-11-23.csv"]) != "kind\nfinding\n" {
		t.Errorf("the digest's .eml: parts %v, text %q, attachments %q", m.Parts, m.Text, m.Attachments)
	}
	if st, _ := os.Stat(filepath.Join(dir, want[2])); st.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v; want 0600 (it names people and credentials)", st.Mode().Perm())
	}
}
