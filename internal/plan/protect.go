package plan

import (
	"fmt"
	"path"
	"slices"

	"github.com/keywarden/keywarden/internal/policy"
)

// reasonSourceFmt is why an action on a key behind keywarden's own
// credentials is skipped; %s is the role that key assumes.
const reasonSourceFmt = "this access key is behind the credentials keywarden runs with: it signs keywarden's sts:AssumeRole of %s; " +
	"keywarden never acts on its own credentials"

// ReasonSource is the exact reason an action on an access key behind
// keywarden's own credentials — the source of the role it assumes, roleARN —
// is skipped.
func ReasonSource(roleARN string) string { return fmt.Sprintf(reasonSourceFmt, roleARN) }

// protection says why a credential must never be acted on — it is the
// access key keywarden signs its calls with, a key behind those
// credentials, or enforce.protect names it (its user, or an access key by
// ID) — or "" when it may be. Only access keys sign AWS API calls: a
// signing certificate or a service-specific credential is never
// keywarden's own, and enforce.protect's key_ids are access key IDs.
func (b *builder) protection(account, user, credential, keyID string) string {
	if credential != policy.CredentialAccessKey {
		keyID = ""
	}
	if keyID != "" {
		if slices.Contains(b.in.Self[account], keyID) {
			return ReasonSelf
		}
		if role, ok := b.in.SourceKeys[keyID]; ok {
			return ReasonSource(role)
		}
	}
	for i, p := range b.cfg.Enforce.Protect {
		if len(p.Accounts) > 0 && !slices.Contains(p.Accounts, account) {
			continue
		}
		what := ""
		if keyID != "" && slices.Contains(p.KeyIDs, keyID) {
			what = "access key " + keyID
		}
		for _, g := range p.Users {
			if ok, err := path.Match(g, user); what == "" && err == nil && ok {
				what = fmt.Sprintf("user %s matches %q", user, g)
			}
		}
		if what == "" {
			continue
		}
		reason := fmt.Sprintf("protected by enforce.protect[%d] (%s)", i, what)
		if p.Reason != "" {
			reason += ": " + p.Reason
		}
		return reason + "; keywarden never acts on it"
	}
	return ""
}
