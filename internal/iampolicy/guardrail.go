package iampolicy

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/keywarden/keywarden/internal/config"
)

// Guardrail kinds: where the document is attached.
const (
	// GuardrailSCP is a service control policy, attached to the
	// organization's root, OUs or accounts: it binds every principal of
	// the member accounts (never the management account).
	GuardrailSCP = "scp"
	// GuardrailBoundary is a permissions boundary, attached to the users
	// and roles that may tag users: it allows everything else their own
	// policies allow.
	GuardrailBoundary = "boundary"
)

// Size limits AWS enforces on the documents.
const (
	// MaxSCPChars is the most characters an SCP may have, white space
	// included.
	MaxSCPChars = 5120
	// MaxManagedPolicyChars is the most characters a customer managed
	// policy (a permissions boundary) may have, white space excluded.
	MaxManagedPolicyChars = 6144
)

// GuardrailOptions say what the config does not.
type GuardrailOptions struct {
	// Kind is GuardrailSCP (default) or GuardrailBoundary.
	Kind string
	// Admins are the principals (IAM role or user ARNs, wildcards
	// allowed, or an account's root) the guardrail leaves free to change
	// what keywarden reads.
	Admins []string
	// Partition as in Options.
	Partition string
}

// Actions the guardrail denies.
var (
	// guardedTagActions set or remove a user's tags; creating a user with
	// tags is authorized by iam:TagUser too, and iam:CreateUser sees the
	// same aws:TagKeys.
	guardedTagActions = []string{"iam:CreateUser", "iam:TagUser", "iam:UntagUser"}
	// guardedGroupActions change a group's members.
	guardedGroupActions = []string{"iam:AddUserToGroup", "iam:RemoveUserFromGroup"}
	// guardedRoleActions change what a role may do or who may assume it.
	guardedRoleActions = []string{
		"iam:AttachRolePolicy", "iam:DeleteRole", "iam:DeleteRolePermissionsBoundary", "iam:DeleteRolePolicy",
		"iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy",
		"iam:UpdateRole", "iam:UpdateRoleDescription",
	}
)

var adminARNRE = regexp.MustCompile(`^arn:([a-z-]+):iam::([0-9]{12}|\*):(root|(role|user)/.+)$`)

// Guardrail returns the document that stops the self-exemption the config
// allows: IAM users that tag themselves (or are created with tags) into a
// class, an exemption or another owner address, that join or leave a
// group a class or exemption matches, or that change keywarden's member
// role. It denies, for every principal but the admins:
//   - iam:TagUser, iam:UntagUser and iam:CreateUser with any tag key the
//     config reads (classes[].match.tags, exemptions[].tags,
//     notify.users.email_tags, keywarden:secret with a rotate stage),
//     compared as IAM compares tag keys, without case (aws:TagKeys);
//   - iam:AddUserToGroup and iam:RemoveUserFromGroup on the groups
//     classes and exemptions match;
//   - the changes to the member role (accounts.organization.role_name, the
//     accounts.list role ARNs) that could widen it, lock keywarden out or
//     let others assume it.
//
// The SCP has only Deny statements; the boundary allows everything else
// ("*"), as a boundary must. Either is checked against AWS's syntax and
// size limits (CheckSCP, CheckManagedPolicy).
func Guardrail(cfg *config.Config, o GuardrailOptions) (*Document, error) {
	if cfg == nil {
		cfg = config.Default()
	}
	kind := cmp.Or(o.Kind, GuardrailSCP)
	if kind != GuardrailSCP && kind != GuardrailBoundary {
		return nil, fmt.Errorf("guardrail %q: want %s or %s", o.Kind, GuardrailSCP, GuardrailBoundary)
	}
	part, err := PartitionOf(cfg, o.Partition)
	if err != nil {
		return nil, err
	}
	for _, a := range o.Admins {
		m := adminARNRE.FindStringSubmatch(a)
		switch {
		case m == nil && strings.Contains(a, ":assumed-role/"):
			return nil, fmt.Errorf("guardrail admin %q: want the role's ARN (arn:%s:iam::ACCOUNT:role/NAME): aws:PrincipalArn names a session by its role", a, part)
		case m == nil:
			return nil, fmt.Errorf("guardrail admin %q: want an IAM role or user ARN (arn:%s:iam::ACCOUNT:role/NAME; * for any account or in the name), or arn:%s:iam::ACCOUNT:root", a, part, part)
		case m[1] != part:
			return nil, fmt.Errorf("guardrail admin %q: want an ARN in partition %s", a, part)
		}
	}
	keys := TagKeysRead(cfg)
	groups := groupsRead(cfg)
	roles := memberRoleARNs(cfg, part)
	if len(keys) == 0 && len(groups) == 0 && len(roles) == 0 {
		return nil, fmt.Errorf("the config reads no tag, matches no group and assumes no role: there is nothing to guard")
	}
	unlessAdmin := func(c Condition) Condition {
		if len(o.Admins) > 0 {
			c["ArnNotLike"] = map[string][]string{"aws:PrincipalArn": sortedUnique(o.Admins)}
		}
		return c
	}
	d := &Document{Version: Version}
	if kind == GuardrailBoundary {
		d.Statement = append(d.Statement, Statement{Sid: "AllowWithinBoundary", Effect: "Allow", Action: []string{"*"}, Resource: []string{"*"}})
	}
	if len(keys) > 0 {
		d.Statement = append(d.Statement, Statement{Sid: "ProtectKeywardenTags", Effect: "Deny", Action: guardedTagActions,
			Resource:  []string{fmt.Sprintf("arn:%s:iam::*:user/*", part)},
			Condition: unlessAdmin(Condition{"ForAnyValue:StringEqualsIgnoreCase": {"aws:TagKeys": keys}})})
	}
	if len(groups) > 0 {
		var res []string
		for _, g := range groups {
			res = append(res, fmt.Sprintf("arn:%s:iam::*:group/%s", part, g), fmt.Sprintf("arn:%s:iam::*:group/*/%s", part, g))
		}
		d.Statement = append(d.Statement, Statement{Sid: "ProtectKeywardenGroups", Effect: "Deny", Action: guardedGroupActions,
			Resource: sortedUnique(res), Condition: unlessAdmin(Condition{})})
	}
	if len(roles) > 0 {
		d.Statement = append(d.Statement, Statement{Sid: "ProtectKeywardenRoles", Effect: "Deny", Action: guardedRoleActions,
			Resource: roles, Condition: unlessAdmin(Condition{})})
	}
	for i := range d.Statement {
		if len(d.Statement[i].Condition) == 0 {
			d.Statement[i].Condition = nil
		}
	}
	return d, nil
}

// TagKeysRead lists the tag keys the config reads to decide a user's class,
// exemption or owner address — and, with a rotate stage, where a user's
// new key is written (keywarden:secret) — sorted, one spelling of each
// (IAM tag keys differ by more than case).
func TagKeysRead(cfg *config.Config) []string {
	var all []string
	for _, c := range cfg.Classes {
		for k := range c.Match.Tags {
			all = append(all, k)
		}
	}
	for _, e := range cfg.Exemptions {
		for k := range e.Tags {
			all = append(all, k)
		}
	}
	all = append(all, cfg.Notify.Users.EmailTags...)
	if RemediationOf(cfg).Rotate {
		// The target's own checks (account, name, its keywarden:user tag)
		// stop a forged tag; the guardrail stops it being set at all.
		all = append(all, config.TagSecret)
	}
	slices.Sort(all)
	var out []string
	for _, k := range all {
		if k != "" && !slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, k) }) {
			out = append(out, k)
		}
	}
	return out
}

// groupsRead lists the groups classes and exemptions match, sorted.
func groupsRead(cfg *config.Config) []string {
	var all []string
	for _, c := range cfg.Classes {
		all = append(all, c.Match.Groups...)
	}
	for _, e := range cfg.Exemptions {
		all = append(all, e.Groups...)
	}
	return sortedUnique(slices.DeleteFunc(all, func(g string) bool { return g == "" }))
}

// memberRoleARNs are the roles keywarden assumes: the organization's in
// any account, and the listed ones.
func memberRoleARNs(cfg *config.Config, partition string) []string {
	var out []string
	if o := cfg.Accounts.Organization; o != nil {
		out = append(out, fmt.Sprintf("arn:%s:iam::*:role/%s", partition, o.RoleName))
	}
	for _, t := range cfg.Accounts.List {
		if t.RoleARN != "" {
			out = append(out, t.RoleARN)
		}
	}
	return sortedUnique(out)
}

// scpElements are the elements an SCP statement may have (no Principal,
// no NotPrincipal).
var scpElements = []string{"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}

var sidRE = regexp.MustCompile(`^[A-Za-z0-9]*$`)

// CheckSCP checks a printed SCP against what AWS Organizations accepts: at
// most MaxSCPChars characters, white space included; Version 2012-10-17;
// statements of the SCP elements only (never Principal); Condition,
// Resource other than "*" and NotAction only in Deny statements; a
// wildcard in an action only alone or at its end.
func CheckSCP(printed []byte) error {
	if n := utf8.RuneCount(printed); n > MaxSCPChars {
		return fmt.Errorf("the SCP is %d characters; an SCP may have %d, white space included", n, MaxSCPChars)
	}
	stmts, err := checkDocument(printed)
	if err != nil {
		return err
	}
	for i, s := range stmts {
		for k := range s {
			if !slices.Contains(scpElements, k) {
				return fmt.Errorf("statement %d: an SCP statement cannot have %s", i, k)
			}
		}
		var effect string
		_ = json.Unmarshal(s["Effect"], &effect)
		if effect == "Allow" {
			var res []string
			_ = json.Unmarshal(s["Resource"], &res)
			if s["Condition"] != nil || s["NotAction"] != nil || s["NotResource"] != nil || (s["Resource"] != nil && !slices.Equal(res, []string{"*"})) {
				return fmt.Errorf("statement %d: an SCP's Allow statement takes Action and Resource \"*\" only", i)
			}
		}
		raw := s["Action"]
		if raw == nil {
			raw = s["NotAction"]
		}
		var actions []string
		_ = json.Unmarshal(raw, &actions)
		for _, a := range actions {
			if w := strings.IndexAny(a, "*?"); w >= 0 && w != len(a)-1 {
				return fmt.Errorf("statement %d: action %q: an SCP takes a wildcard only alone or at the end", i, a)
			}
		}
	}
	return nil
}

// CheckManagedPolicy checks a printed managed policy (a permissions
// boundary): at most MaxManagedPolicyChars characters, white space
// excluded; Version 2012-10-17; no Principal.
func CheckManagedPolicy(printed []byte) error {
	n := 0
	for _, r := range string(printed) {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	if n > MaxManagedPolicyChars {
		return fmt.Errorf("the policy is %d characters without white space; a managed policy may have %d", n, MaxManagedPolicyChars)
	}
	stmts, err := checkDocument(printed)
	if err != nil {
		return err
	}
	for i, s := range stmts {
		if s["Principal"] != nil || s["NotPrincipal"] != nil {
			return fmt.Errorf("statement %d: an identity policy cannot name a Principal", i)
		}
	}
	return nil
}

// checkDocument checks what every policy needs — one JSON object of
// Version 2012-10-17 and a Statement list whose statements have an
// Effect, an Action and a Sid of letters and digits — and returns the
// statements' elements.
func checkDocument(printed []byte) ([]map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(printed))
	var doc struct {
		Version   string
		Statement []map[string]json.RawMessage
	}
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("the policy is not one JSON object: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("the policy has more than one JSON object")
	}
	if doc.Version != Version {
		return nil, fmt.Errorf("the policy's Version is %q; want %s", doc.Version, Version)
	}
	if len(doc.Statement) == 0 {
		return nil, fmt.Errorf("the policy has no statement")
	}
	for i, s := range doc.Statement {
		var effect, sid string
		_ = json.Unmarshal(s["Effect"], &effect)
		_ = json.Unmarshal(s["Sid"], &sid)
		switch {
		case effect != "Allow" && effect != "Deny":
			return nil, fmt.Errorf("statement %d: Effect %q: want Allow or Deny", i, effect)
		case s["Action"] == nil && s["NotAction"] == nil:
			return nil, fmt.Errorf("statement %d: no Action", i)
		case !sidRE.MatchString(sid):
			return nil, fmt.Errorf("statement %d: Sid %q: letters and digits only", i, sid)
		}
	}
	return doc.Statement, nil
}

// Compact is the document without white space: what fits an SCP when
// the indented form does not.
func (d *Document) Compact() ([]byte, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// PrintGuardrail is d, a guardrail of kind, as printed: indented; an SCP
// that is too large indented goes without white space. The result passes
// CheckSCP or CheckManagedPolicy, or the error says why it cannot.
func PrintGuardrail(d *Document, kind string) ([]byte, error) {
	b, err := d.JSON()
	if err != nil {
		return nil, err
	}
	if cmp.Or(kind, GuardrailSCP) == GuardrailBoundary {
		return b, CheckManagedPolicy(b)
	}
	if utf8.RuneCount(b) > MaxSCPChars {
		if b, err = d.Compact(); err != nil {
			return nil, err
		}
	}
	if err := CheckSCP(b); err != nil {
		return nil, fmt.Errorf("%w: split it, or use the permissions boundary (--guardrail boundary)", err)
	}
	return b, nil
}
