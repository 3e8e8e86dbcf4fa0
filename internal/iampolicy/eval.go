package iampolicy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Request is one authorization request: an action on a resource, with the
// condition keys of its request context. The tests evaluate every request
// keywarden makes against its policy with it (and requests keywarden's
// guardrails are meant to stop), so the policy is checked at the level of
// actions, resources and conditions, not actions alone.
type Request struct {
	// Action is "service:Action", as policies name it.
	Action string
	// Resource is the ARN the request acts on, or "*" for an action
	// without a resource type (only a statement's "*" matches it).
	Resource string
	// Context holds the request context's keys ("aws:PrincipalArn",
	// "aws:TagKeys"…): one value for a single-valued key, any number for
	// a multivalued one.
	Context map[string][]string
}

// Grant is what of a statement matched a request: its Sid, and the action
// and resource patterns that matched.
type Grant struct{ Sid, Action, Resource string }

// Decision is a document's answer to a Request.
type Decision struct {
	// Allowed: an Allow statement matches and no Deny statement does.
	Allowed bool
	// Denied: a Deny statement matches.
	Denied bool
	// Grants are the matching Allow statements' patterns (when not
	// denied), and Denials the matching Deny statements'.
	Grants, Denials []Grant
}

// Evaluate decides r under d alone, as IAM evaluates one policy: a
// statement matches when its action, its resource and every condition
// match. It knows the condition operators keywarden's documents use —
// String(Not)Equals(IgnoreCase), String(Not)Like, Arn(Not)Equals,
// Arn(Not)Like, with ForAnyValue:/ForAllValues: and IfExists — and policy
// variables (${aws:PrincipalOrgID}) in condition values; any other
// operator is an error, never a silent match.
func (d *Document) Evaluate(r Request) (Decision, error) {
	var dec Decision
	for _, s := range d.Statement {
		action := firstMatch(s.Action, func(p string) bool { return globMatch(strings.ToLower(p), strings.ToLower(r.Action)) })
		resource := firstMatch(s.Resource, func(p string) bool { return resourceMatch(p, r.Resource) })
		if action == "" || resource == "" {
			continue
		}
		ok, err := s.Condition.holds(r.Context)
		if err != nil {
			return Decision{}, fmt.Errorf("statement %s: %w", s.Sid, err)
		}
		if !ok {
			continue
		}
		g := Grant{Sid: s.Sid, Action: action, Resource: resource}
		switch s.Effect {
		case "Allow":
			dec.Grants = append(dec.Grants, g)
		case "Deny":
			dec.Denials = append(dec.Denials, g)
		default:
			return Decision{}, fmt.Errorf("statement %s: effect %q", s.Sid, s.Effect)
		}
	}
	dec.Denied = len(dec.Denials) > 0
	dec.Allowed = len(dec.Grants) > 0 && !dec.Denied
	if dec.Denied {
		dec.Grants = nil
	}
	return dec, nil
}

// Grants lists every (Sid, action, resource) pair d's Allow statements
// grant: what "nothing extra" compares the requests with.
func (d *Document) Grants() []Grant {
	var out []Grant
	for _, s := range d.Statement {
		if s.Effect != "Allow" {
			continue
		}
		for _, a := range s.Action {
			for _, r := range s.Resource {
				out = append(out, Grant{Sid: s.Sid, Action: a, Resource: r})
			}
		}
	}
	return out
}

func firstMatch(patterns []string, match func(string) bool) string {
	if i := slices.IndexFunc(patterns, match); i >= 0 {
		return patterns[i]
	}
	return ""
}

// globMatch matches s against an IAM pattern: * any run of characters, ?
// one character, anything else itself.
func globMatch(pattern, s string) bool {
	p, v := []rune(pattern), []rune(s)
	// star and mark: the last * seen, and where in v it began to match.
	pi, vi, star, mark := 0, 0, -1, 0
	for vi < len(v) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == v[vi]):
			pi++
			vi++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, vi
			pi++
		case star >= 0:
			mark++
			pi, vi = star+1, mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// arnMatch matches an ARN as IAM does: the first five colon-separated
// parts each on their own (a wildcard never spans a colon there), the
// resource part, colons included, as a whole.
func arnMatch(pattern, arn string) bool {
	p, a := strings.SplitN(pattern, ":", 6), strings.SplitN(arn, ":", 6)
	if len(p) != 6 || len(a) != 6 {
		return false
	}
	for i := range p {
		if !globMatch(p[i], a[i]) {
			return false
		}
	}
	return true
}

// resourceMatch matches a request's resource ("*" or an ARN) against a
// statement's Resource pattern.
func resourceMatch(pattern, resource string) bool {
	switch {
	case pattern == "*":
		return true
	case resource == "*":
		return false
	}
	return arnMatch(pattern, resource)
}

// operators are the condition operators Evaluate knows: whether a value
// matches a policy value, and whether the operator is negated (true when
// no policy value matches).
var operators = map[string]struct {
	match  func(policy, value string) bool
	negate bool
}{
	"StringEquals":              {func(p, v string) bool { return p == v }, false},
	"StringNotEquals":           {func(p, v string) bool { return p == v }, true},
	"StringEqualsIgnoreCase":    {strings.EqualFold, false},
	"StringNotEqualsIgnoreCase": {strings.EqualFold, true},
	"StringLike":                {globMatch, false},
	"StringNotLike":             {globMatch, true},
	"ArnEquals":                 {arnMatch, false},
	"ArnNotEquals":              {arnMatch, true},
	"ArnLike":                   {arnMatch, false},
	"ArnNotLike":                {arnMatch, true},
}

var policyVariable = regexp.MustCompile(`\$\{([^}]+)\}`)

// holds reports whether every condition of c holds in ctx.
func (c Condition) holds(ctx map[string][]string) (bool, error) {
	for op, keys := range c {
		set, base := "", op
		if i := strings.IndexByte(op, ':'); i >= 0 {
			set, base = op[:i], op[i+1:]
		}
		base, ifExists := strings.CutSuffix(base, "IfExists")
		o, known := operators[base]
		if !known || (set != "" && set != "ForAnyValue" && set != "ForAllValues") || (set != "" && o.negate) {
			return false, fmt.Errorf("condition operator %q is not one Evaluate knows", op)
		}
		for key, vals := range keys {
			policy := make([]string, len(vals))
			for i, v := range vals {
				policy[i] = policyVariable.ReplaceAllStringFunc(v, func(m string) string {
					if got := ctx[m[2:len(m)-1]]; len(got) > 0 {
						return got[0]
					}
					return m
				})
			}
			matches := func(v string) bool {
				return slices.ContainsFunc(policy, func(p string) bool { return o.match(p, v) })
			}
			have, present := ctx[key]
			var ok bool
			switch {
			case set == "ForAnyValue":
				ok = slices.ContainsFunc(have, matches)
			case set == "ForAllValues":
				ok = !slices.ContainsFunc(have, func(v string) bool { return !matches(v) })
			case !present || len(have) == 0:
				// A missing key: true for IfExists and negated operators.
				ok = ifExists || o.negate
			default:
				ok = matches(have[0]) != o.negate
			}
			if !ok {
				return false, nil
			}
		}
	}
	return true, nil
}
