package slack

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/plan"
)

// Slack's limits: 50 blocks a message, 3000 characters a section text,
// 150 a header.
const (
	maxBlocks  = 50
	maxSection = 3000
	maxHeader  = 150
	// maxLines bounds the finding lines shown.
	maxLines = 30
)

// Channel posts to one incoming webhook.
type Channel struct{ poster notify.Poster }

var _ notify.Channel = (*Channel)(nil)

// New returns a channel posting to webhook url; client nil uses a client
// with a 30-second timeout.
func New(url string, client *http.Client) *Channel {
	return &Channel{poster: notify.NewPoster(url, client)}
}

// Name implements notify.Channel.
func (c *Channel) Name() string { return "slack" }

// Send implements notify.Channel.
func (c *Channel) Send(ctx context.Context, m *notify.Message) error {
	if err := c.poster.Post(ctx, Payload(m)); err != nil {
		return fmt.Errorf("slack: post %s: %w", m.Kind, err)
	}
	return nil
}

// Block is one Block Kit block.
type Block struct {
	Type     string  `json:"type"`
	Text     *Text   `json:"text,omitempty"`
	Elements []*Text `json:"elements,omitempty"`
}

// Text is a Block Kit text object.
type Text struct {
	Type string `json:"type"` // plain_text or mrkdwn
	Text string `json:"text"`
}

// Message is the webhook's JSON body.
type Message struct {
	// Text is the notification fallback.
	Text   string  `json:"text"`
	Blocks []Block `json:"blocks"`
}

// Escape escapes the three characters Slack's mrkdwn gives meaning to
// (&, <, >), so a user name cannot become a link or a mention.
func Escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(notify.HeaderText(s))
}

func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func section(s string) Block {
	return Block{Type: "section", Text: &Text{Type: "mrkdwn", Text: cut(s, maxSection)}}
}

// Payload builds the Block Kit message for m: from its digest when it has
// one, else a section with its text.
func Payload(m *notify.Message) Message {
	msg := Message{Text: cut(notify.HeaderText(m.Subject), maxSection)}
	d := m.Digest
	if d == nil {
		msg.Blocks = []Block{section(Escape(m.Subject)), section(Escape(m.Text))}
		return msg
	}
	add := func(b Block) {
		if len(msg.Blocks) < maxBlocks-1 {
			msg.Blocks = append(msg.Blocks, b)
		}
	}
	add(Block{Type: "header", Text: &Text{Type: "plain_text", Text: cut("keywarden digest for "+d.Day, maxHeader)}})

	// A guard and the users a tag relaxed open the digest.
	if len(d.Guards) > 0 {
		lines := []string{fmt.Sprintf(":octagonal_sign: *Stopped by a guard*: nothing was changed in %d %s", len(d.Guards), plural(len(d.Guards), "account", "accounts"))}
		for _, g := range d.Guards {
			lines = append(lines, "• "+Escape(g.Reason))
		}
		addLines(add, lines[0], lines[1:])
	}
	if len(d.Relaxed) > 0 {
		var lines []string
		for _, r := range d.Relaxed {
			lines = append(lines, fmt.Sprintf("• `%s` *%s*: %s", Escape(r.Account), Escape(r.User), Escape(r.Reason)))
		}
		addLines(add, fmt.Sprintf(":warning: *Relaxed by a tag* (%d %s): users who can tag themselves can escape enforcement this way: check each",
			len(d.Relaxed), plural(len(d.Relaxed), "user", "users")), lines)
	}
	due := 0
	for _, it := range d.Findings {
		if it.Status != "not_due" {
			due++
		}
	}
	if d.Compliant {
		add(section(fmt.Sprintf(":white_check_mark: *All compliant*: no findings in %d %s.", len(d.Accounts), plural(len(d.Accounts), "account", "accounts"))))
	} else {
		// Only what happened is counted.
		actions := ""
		for _, c := range []struct {
			status, what string
		}{{plan.ActionDone, "taken"}, {plan.ActionFailed, "failed"}} {
			if n := d.Count(c.status); n > 0 {
				actions += fmt.Sprintf(" · %d %s %s", n, plural(n, "action", "actions"), c.what)
			}
		}
		if n := d.Count(plan.ActionPlanned); n > 0 && d.Mode == plan.ModeDryRun {
			actions += fmt.Sprintf(" · %d %s a real run would take", n, plural(n, "action", "actions"))
		}
		add(section(fmt.Sprintf("*%d %s* (%d new or due) in %d %s%s · %d owner %s · %d exempt",
			len(d.Findings), plural(len(d.Findings), "finding", "findings"), due, len(d.Accounts), plural(len(d.Accounts), "account", "accounts"),
			actions, d.Messages, plural(d.Messages, "message", "messages"), d.Exempt)))
	}
	for _, a := range d.Accounts {
		var b strings.Builder
		fmt.Fprintf(&b, "*<%s|%s>*", Escape(a.ConsoleURL), Escape(a.ID))
		if a.Alias != "" {
			fmt.Fprintf(&b, " (%s)", Escape(a.Alias))
		}
		if a.Error != "" {
			fmt.Fprintf(&b, ": :x: %s: %s", Escape(a.Status), Escape(a.Error))
		} else {
			fmt.Fprintf(&b, ": %d %s, %d exempt", a.Findings, plural(a.Findings, "finding", "findings"), a.Exempt)
		}
		for _, c := range a.Counts {
			fmt.Fprintf(&b, "\n• %s", Escape(c.Rule))
			if c.Stage > 0 {
				fmt.Fprintf(&b, " at %d days", c.Stage)
			}
			fmt.Fprintf(&b, " (%s): %d", Escape(c.Action), c.Count)
		}
		add(section(b.String()))
	}
	if due > 0 {
		var lines []string
		for _, it := range plan.ByUrgency(d.Findings, d.Day) { // the most urgent first
			if it.Status == "not_due" {
				continue
			}
			if len(lines) == maxLines {
				lines = append(lines, fmt.Sprintf("…and %d more in the email digest", due-maxLines))
				break
			}
			owner := "admins"
			if len(it.Recipients) > 0 {
				owner = strings.Join(it.Recipients, ", ")
			}
			lines = append(lines, fmt.Sprintf("• [%s] `%s` *%s*: %s. %s Owner: %s", Escape(it.Severity), Escape(it.Account),
				Escape(it.User), Escape(it.Title), Escape(it.Next), Escape(owner)))
		}
		addLines(add, "*New or due*", lines)
	}
	if len(d.Actions) > 0 {
		var lines []string
		for _, g := range d.ActionGroups() {
			head := fmt.Sprintf("_%s_ (%d)", Escape(g.Title), len(g.Actions))
			if g.Reason != "" {
				head += ": " + Escape(g.Reason)
			}
			lines = append(lines, head)
			for _, a := range g.Actions {
				l := "• " + Escape(a.Line())
				if g.Reason == "" && a.Reason != "" {
					l += ": " + Escape(a.Reason)
				}
				lines = append(lines, l)
			}
		}
		addLines(add, "*Actions*", lines)
	}
	if len(d.Undeliverable) > 0 {
		var lines []string
		for _, u := range d.Undeliverable {
			lines = append(lines, fmt.Sprintf("• `%s` *%s*: %s", Escape(u.Account), Escape(u.User), Escape(u.Reason)))
		}
		addLines(add, "*Owners keywarden cannot mail*", lines)
	}
	if len(d.AddressProblems) > 0 {
		var lines []string
		for _, u := range d.AddressProblems {
			lines = append(lines, fmt.Sprintf("• `%s` *%s*: %s", Escape(u.Account), Escape(u.User), Escape(u.Reason)))
		}
		addLines(add, "*Addresses keywarden skipped*", lines)
	}
	msg.Blocks = append(msg.Blocks, Block{Type: "context", Elements: []*Text{{Type: "mrkdwn", Text: Escape(modeLine(d.Mode))}}})
	return msg
}

// addLines adds a titled list, split over sections of at most maxSection
// characters.
func addLines(add func(Block), title string, lines []string) {
	cur := title
	for _, l := range lines {
		if len(cur)+1+len(l) > maxSection {
			add(section(cur))
			cur = ""
		}
		if cur != "" {
			cur += "\n"
		}
		cur += l
	}
	if cur != "" {
		add(section(cur))
	}
}

func modeLine(m plan.Mode) string {
	switch m {
	case plan.ModeDryRun:
		return "keywarden dry run: nothing was sent or changed"
	case plan.ModeApply:
		return "keywarden run --apply"
	}
	return "keywarden run: remediation is only listed"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
