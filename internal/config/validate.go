package config

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/mail"
	"path"
	"slices"
	"strings"

	"github.com/keywarden/keywarden/internal/state"
)

// Validate checks the config's meaning: the bounds, patterns and enums of
// single keys (the constraints table), ascending stages, defined classes,
// keys that exclude or need each other, and so on. It returns every
// problem joined with errors.Join, in the order of the keys they name,
// each a *ConfigError with its key path (File and Line are empty; Parse
// and Load fill them in).
func (c *Config) Validate() error {
	probs := c.problems()
	if len(probs) == 0 {
		return nil
	}
	errs := make([]error, len(probs))
	for i, p := range probs {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// A problem is a ConfigError and its phase: whether it goes before or after
// what the constraints table found wrong with the same key.
type problem struct {
	err   *ConfigError
	phase int
}

const (
	phaseFirst = iota
	phaseConstraint
	phaseAfter
)

// checker collects problems with their key paths.
type checker struct {
	probs []problem
	// order numbers the key paths in the order of the config's keys.
	order map[string]int
}

// visit gives p, the next key path in the order of the config's keys, its
// number.
func (k *checker) visit(p keyPath) {
	if s := p.String(); k.order[s] == 0 {
		k.order[s] = len(k.order) + 1
	}
}

func (k *checker) addPhase(phase int, p keyPath, msg string) {
	k.probs = append(k.probs, problem{&ConfigError{Path: p.String(), Msg: msg}, phase})
}

// add reports a problem at p, after what the constraints table found
// wrong with p.
func (k *checker) add(p keyPath, format string, args ...any) {
	k.addPhase(phaseAfter, p, fmt.Sprintf(format, args...))
}

// addFirst reports a problem at p, before what the constraints table found
// wrong with p.
func (k *checker) addFirst(p keyPath, format string, args ...any) {
	k.addPhase(phaseFirst, p, fmt.Sprintf(format, args...))
}

// reported reports whether the constraints table found p wrong.
func (k *checker) reported(p keyPath) bool {
	s := p.String()
	return slices.ContainsFunc(k.probs, func(q problem) bool { return q.phase == phaseConstraint && q.err.Path == s })
}

// rank is the number of the key path names, or of the nearest enclosing
// key that has one.
func (k *checker) rank(path string) int {
	p, _ := parseKeyPath(path)
	for ; len(p) > 0; p = p[:len(p)-1] {
		if n, ok := k.order[p.String()]; ok {
			return n
		}
	}
	return 0
}

// problems is Validate's list of problems, without file positions: what
// the constraints table finds and what the checks that relate several keys
// find, sorted by the order of the keys they name.
func (c *Config) problems() []*ConfigError {
	k := &checker{order: map[string]int{}}
	k.checkConstraints(c)
	root := keyPath{}
	switch c.Version {
	case CurrentVersion:
	case 0:
		k.add(root.key("version"), "required; add `version: %d`", CurrentVersion)
	default:
		k.add(root.key("version"), "unsupported config version %d (this keywarden understands %d)", c.Version, CurrentVersion)
	}
	k.accounts(&c.Accounts, root.key("accounts"))
	classes := k.classes(c.Classes, root.key("classes"))
	k.rules(&c.Rules, classes, root.key("rules"))
	k.exemptions(c.Exemptions, root.key("exemptions"))
	k.notify(&c.Notify, root.key("notify"))
	k.enforce(&c.Enforce, root.key("enforce"))
	k.state(&c.State, root.key("state"))
	k.rotate(&c.Rotate, classes, root.key("rotate"))
	k.partition(c, root)

	rank := make(map[*ConfigError]int, len(k.probs))
	for _, p := range k.probs {
		rank[p.err] = k.rank(p.err.Path)
	}
	slices.SortStableFunc(k.probs, func(a, b problem) int {
		return cmp.Or(cmp.Compare(rank[a.err], rank[b.err]), cmp.Compare(a.phase, b.phase))
	})
	out := make([]*ConfigError, len(k.probs))
	for i, p := range k.probs {
		out[i] = p.err
	}
	return out
}

func (k *checker) accounts(a *Accounts, p keyPath) {
	if a.Organization != nil && len(a.List) > 0 {
		k.add(p, "organization and list are mutually exclusive; keep one")
	}
	seen := map[string]int{}
	for i, t := range a.List {
		ip := p.key("list").idx(i)
		if t.ID != "" {
			if first, dup := seen[t.ID]; dup {
				k.add(ip.key("id"), "duplicate account %s (also accounts.list[%d])", t.ID, first)
			} else {
				seen[t.ID] = i
			}
		}
		if m := roleARNRE.FindStringSubmatch(t.RoleARN); m != nil && accountIDRE.MatchString(t.ID) && m[2] != t.ID {
			k.add(ip.key("role_arn"), "the role is in account %s, not %s", m[2], t.ID)
		}
	}
}

// partition checks that the ARNs and the SES region the config names are
// in accounts.partition, when it is set: a role, topic or parameter of
// another partition can never be reached from it.
func (k *checker) partition(c *Config, root keyPath) {
	want := c.Accounts.Partition
	if want == "" || !slices.Contains(Partitions, want) {
		return
	}
	arn := func(p keyPath, v, what string) {
		if got := ARNPartition(v); got != "" && got != want && !k.reported(p) {
			k.add(p, "the %s is in partition %s, not accounts.partition %s", what, got, want)
		}
	}
	for i, t := range c.Accounts.List {
		arn(root.key("accounts").key("list").idx(i).key("role_arn"), t.RoleARN, "role")
	}
	np := root.key("notify")
	arn(np.key("admins").key("sns_topic_arn"), c.Notify.Admins.SNSTopicARN, "topic")
	arn(np.key("admins").key("slack_webhook_ssm"), c.Notify.Admins.SlackWebhookSSM, "parameter")
	arn(np.key("admins").key("webhook_url_ssm"), c.Notify.Admins.WebhookURLSSM, "parameter")
	arn(np.key("smtp").key("password_ssm"), c.Notify.SMTP.PasswordSSM, "parameter")
	arn(root.key("enforce").key("stop_parameter"), c.Enforce.StopParameter, "parameter")
	if r := c.Notify.SES.Region; r != "" {
		if got := RegionPartition(r); got != want && !k.reported(np.key("ses").key("region")) {
			k.add(np.key("ses").key("region"), "region %s is in partition %s, not accounts.partition %s", r, got, want)
		}
	}
}

// ARNPartition is the partition of an ARN ("arn:aws-cn:…" → aws-cn); ""
// when s is not an ARN.
func ARNPartition(s string) string {
	rest, ok := strings.CutPrefix(s, "arn:")
	if !ok {
		return ""
	}
	p, _, ok := strings.Cut(rest, ":")
	if !ok {
		return ""
	}
	return p
}

// RegionPartition is the partition a region belongs to: aws-cn for cn-*,
// aws-us-gov for us-gov-*, aws otherwise.
func RegionPartition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return PartitionChina
	case strings.HasPrefix(region, "us-gov-"):
		return PartitionGovCloud
	}
	return PartitionAWS
}

// classes checks the class list and returns the names it defines.
func (k *checker) classes(cs []Class, p keyPath) map[string]bool {
	names := map[string]bool{}
	first := map[string]int{}
	for i, c := range cs {
		cp := p.idx(i)
		if np := cp.key("name"); !k.reported(np) {
			if j, dup := first[c.Name]; dup {
				k.add(np, "duplicate class %q (first defined at classes[%d])", c.Name, j)
			} else {
				first[c.Name] = i
				names[c.Name] = true
			}
		}
		k.match(&c.Match, cp.key("match"))
	}
	return names
}

func (k *checker) match(m *Match, p keyPath) {
	if len(m.Tags) == 0 && m.PathPrefix == "" && len(m.Groups) == 0 && len(m.Names) == 0 {
		k.add(p, "needs at least one of tags, path_prefix, groups or names")
		return
	}
	if _, empty := m.Tags[""]; empty {
		k.add(p.key("tags"), "empty tag key")
	}
	for i, g := range m.Groups {
		if g == "" {
			k.add(p.key("groups").idx(i), "empty group name")
		}
	}
	k.globs(m.Names, p.key("names"))
}

func (k *checker) globs(gs []string, p keyPath) {
	for i, g := range gs {
		if g == "" {
			k.add(p.idx(i), "empty name pattern")
		} else if _, err := path.Match(g, ""); err != nil {
			k.add(p.idx(i), "bad glob %q: %v", g, err)
		}
	}
}

// orList lists values for "(want a, b or c)".
func orList(vals ...string) string {
	if len(vals) == 1 {
		return vals[0]
	}
	return strings.Join(vals[:len(vals)-1], ", ") + " or " + vals[len(vals)-1]
}

func (k *checker) rules(r *Rules, classes map[string]bool, p keyPath) {
	known := append([]string{DefaultClass}, slices.Sorted(maps.Keys(classes))...)
	for _, sr := range r.stageRules() {
		ap := p.key(sr.key)
		for _, class := range slices.Sorted(maps.Keys(sr.stages)) {
			cp := ap.key(class)
			if class != DefaultClass && !classes[class] {
				hint := " (define it under classes, or use human)"
				if s := suggest(class, known, ""); strings.HasPrefix(s, "(did you mean") {
					hint = " " + s
				}
				k.add(cp, "unknown class %q%s", class, hint)
			}
			k.stages(sr.stages[class], cp)
		}
	}
	if r.SSHKeyAge != nil {
		k.match(&r.SSHKeyAge.Users, p.key("ssh_key_age").key("users"))
	}
	for _, u := range []struct {
		key  string
		rule *UnusedRule
	}{{"access_key_unused", r.AccessKeyUnused}, {"password_unused", r.PasswordUnused}, {"dormant_user", r.DormantUser}} {
		if u.rule != nil {
			k.infoChanges(u.rule.Action, u.rule.Severity, p.key(u.key))
		}
	}
}

// stages checks that a class's stages ascend and never disable a deleted
// credential.
//
// A rotate stage (access_key_age only: the constraints refuse it
// elsewhere) comes before every disable and delete stage of the class, and
// there is at most one: a rotation needs an active key, and the key it
// replaces is then retired by the rotation (disabled after the overlap,
// deleted after the grace), not by later stages; the disable and delete
// stages after it apply only where the rotation cannot be made (no target,
// a blocked target).
func (k *checker) stages(st []Stage, p keyPath) {
	deleteAt, disableAt, rotateAt := -1, -1, -1
	for i, s := range st {
		sp := p.idx(i)
		if i > 0 && s.At <= st[i-1].At && !k.reported(sp.key("at")) {
			k.add(sp.key("at"), "stages must ascend: %d is not after the previous stage's %d", s.At, st[i-1].At)
		}
		switch {
		case s.Action == ActionRotate && rotateAt >= 0:
			k.add(sp.key("action"), "a second rotate stage (the first is at %d days); a rotated key is retired by its rotation, so one rotate stage is enough", rotateAt)
		case s.Action == ActionRotate && (disableAt >= 0 || deleteAt >= 0):
			k.add(sp.key("action"), "rotate after the %s stage at %d days; a rotation needs an active key: put it before every disable and delete stage",
				map[bool]string{true: "disable", false: "delete"}[disableAt >= 0], max(disableAt, deleteAt))
		case s.Action == ActionRotate:
			rotateAt = s.At
		case s.Action == ActionDisable && disableAt < 0:
			disableAt = s.At
		}
		if s.Action == ActionDisable && deleteAt >= 0 {
			k.add(sp.key("action"), "disable after the delete stage at %d days; a deleted credential cannot be disabled", deleteAt)
		}
		if s.Action == ActionDelete && deleteAt < 0 {
			deleteAt = s.At
		}
		k.infoChanges(s.Action, s.Severity, sp)
	}
}

// infoChanges refuses severity info on an action that changes a
// credential: an informational finding is never mailed to its owner, who
// would never be told before the change (nor could notice_before_action
// ever be met).
func (k *checker) infoChanges(action, severity string, p keyPath) {
	if severity == SeverityInfo && action != "" && action != ActionNotify {
		k.add(p.key("severity"), "info is never mailed to the owner, so it cannot go with action %s (the owner must be told first): use low or higher", action)
	}
}

func (k *checker) exemptions(es []Exemption, p keyPath) {
	for i, e := range es {
		ep := p.idx(i)
		if len(e.Users) == 0 && len(e.Tags) == 0 && len(e.Groups) == 0 {
			k.add(ep, "needs at least one of users, tags or groups")
		}
		k.globs(e.Users, ep.key("users"))
		if _, empty := e.Tags[""]; empty {
			k.add(ep.key("tags"), "empty tag key")
		}
		for j, g := range e.Groups {
			if g == "" {
				k.add(ep.key("groups").idx(j), "empty group name")
			}
		}
	}
}

func (k *checker) address(p keyPath, a string) {
	if _, err := mail.ParseAddress(a); err != nil {
		k.add(p, "%q is not an email address", a)
	}
}

// notify checks the addresses, and the keys that one channel needs or that
// exclude each other: secrets named by an environment variable or an SSM
// parameter, not both.
func (k *checker) notify(n *Notify, p keyPath) {
	if n.From != "" {
		k.address(p.key("from"), n.From)
	} else if n.Users.Via == "ses" || n.Users.Via == "smtp" {
		k.add(p.key("from"), "required when notify.users.via is %s", n.Users.Via)
	}
	for i, t := range n.Users.EmailTags {
		if t == "" {
			k.add(p.key("users").key("email_tags").idx(i), "empty tag key")
		}
	}
	ap := p.key("admins")
	for i, e := range n.Admins.Emails {
		k.address(ap.key("emails").idx(i), e)
	}
	k.notBoth(ap, "slack_webhook_env", n.Admins.SlackWebhookEnv, "slack_webhook_ssm", n.Admins.SlackWebhookSSM)
	k.notBoth(ap, "webhook_url_env", n.Admins.WebhookURLEnv, "webhook_url_ssm", n.Admins.WebhookURLSSM)
	if n.Users.Via == "smtp" && strings.TrimSpace(n.SMTP.Host) == "" {
		k.addFirst(p.key("smtp").key("host"), "required when notify.users.via is smtp (the mail server, e.g. smtp.example.com)")
	}
}

// notBoth checks that a secret is named by an environment variable (envKey)
// or an SSM parameter (ssmKey), not both.
func (k *checker) notBoth(p keyPath, envKey, env, ssmKey, ssm string) {
	if env != "" && ssm != "" {
		k.addFirst(p.key(ssmKey), "set %s or %s, not both", envKey, ssmKey)
	}
}

func (k *checker) enforce(e *Enforce, p keyPath) {
	for i, pr := range e.Protect {
		pp := p.key("protect").idx(i)
		if len(pr.Users) == 0 && len(pr.KeyIDs) == 0 {
			k.add(pp, "needs users or key_ids (or both)")
		}
		k.globs(pr.Users, pp.key("users"))
	}
	if w := e.Window; w != nil {
		wp := p.key("window")
		if w.Start != "" && w.End != "" && !k.reported(wp.key("start")) && !k.reported(wp.key("end")) {
			start, _ := parseClock(w.Start)
			end, _ := parseClock(w.End)
			if end <= start {
				k.add(wp.key("end"), "must be after start (%s), on the same day", w.Start)
			}
		}
		if _, err := loadZone(w.Timezone); err != nil {
			k.add(wp.key("timezone"), "%q is not a time zone (want an IANA name such as Europe/Berlin)", w.Timezone)
		}
	}
}

func (k *checker) state(s *State, p keyPath) {
	up := p.key("url")
	_, err := state.ParseURL(s.URL)
	switch {
	case err == nil:
	case s.URL == "":
		k.add(up, "required (%v)", state.ErrScheme)
	case errors.Is(err, state.ErrScheme):
		k.add(up, "%q is not a state URL (%v)", s.URL, err)
	default:
		k.add(up, "%v", err)
	}
}

// rotate checks the rotate section: secret_name names the user, and each
// target names a class or a user (one of them; a class that is defined)
// and a secret whose name fits secret_name.
func (k *checker) rotate(r *Rotate, classes map[string]bool, p keyPath) {
	if np := p.key("secret_name"); !k.reported(np) && !strings.Contains(r.SecretName, "{user}") {
		k.add(np, "%q does not contain {user}: every user's key would go to the same secret", r.SecretName)
	}
	for i, t := range r.Targets {
		tp := p.key("targets").idx(i)
		switch {
		case t.Class == "" && t.User == "":
			k.add(tp, "needs class or user")
		case t.Class != "" && t.User != "":
			k.add(tp, "class and user are mutually exclusive; keep one")
		case t.Class != "" && t.Class != DefaultClass && !classes[t.Class] && !k.reported(tp.key("class")):
			k.add(tp.key("class"), "unknown class %q (define it under classes, or use human)", t.Class)
		}
		sp := tp.key("secret")
		if k.reported(sp) || k.reported(p.key("secret_name")) || !strings.Contains(r.SecretName, "{user}") {
			continue
		}
		if name, ok := targetName(t.Secret); ok && !secretNameFits(r.SecretName, name, t.User) {
			want := r.SecretName
			if strings.HasPrefix(t.Secret, "ssm:") {
				want = "ssm:/" + want
			}
			k.add(sp, "%q does not match rotate.secret_name (want %s): a rotation would refuse it", t.Secret, want)
		}
	}
}

// targetName is the secret name a target names (a name, an ARN's name, an
// ssm:/path's path without its leading /), and whether it can be told
// here: an ARN's name may end in Secrets Manager's random suffix, so it
// is left to the rotation's own check.
func targetName(target string) (string, bool) {
	if p, ok := strings.CutPrefix(target, "ssm:/"); ok {
		return p, true
	}
	if strings.HasPrefix(target, "arn:") {
		return "", false
	}
	return target, true
}

// secretNameFits reports whether name fits the pattern secret_name: equal
// to it as written ({user} kept, for a class's target), or, for a user's
// target, with {user} replaced by the user's name.
func secretNameFits(pattern, name, user string) bool {
	if name == pattern {
		return true
	}
	return user != "" && strings.ReplaceAll(name, "{user}", user) == strings.ReplaceAll(pattern, "{user}", user)
}
