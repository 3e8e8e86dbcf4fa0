package dynamodb

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// timeLayout is how times are stored: UTC, fixed width, so that they
// compare as strings in conditions and sort keys (as in the SQLite store).
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// item is one DynamoDB item. An attribute that is absent reads as "" or 0:
// keywarden writes no empty strings (an empty value is removed instead),
// so "no claim", "never delivered" and "open" are absent attributes.
type item map[string]types.AttributeValue

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func num(v int) types.AttributeValue    { return &types.AttributeValueMemberN{Value: strconv.Itoa(v)} }

// key is the primary key of an item.
func key(pk, sk string) item { return item{AttrPK: str(pk), AttrSK: str(sk)} }

// put sets a string attribute, leaving it out when v is empty.
func (it item) put(name, v string) {
	if v != "" {
		it[name] = str(v)
	}
}

// putTime sets a time attribute, leaving it out when t is zero.
func (it item) putTime(name string, t time.Time) {
	if !t.IsZero() {
		it[name] = str(fmtTime(t))
	}
}

// putNum sets a number attribute, leaving it out when v is 0.
func (it item) putNum(name string, v int) {
	if v != 0 {
		it[name] = num(v)
	}
}

func (it item) str(name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// strs reads a list of strings (nil when absent).
func (it item) strs(name string) []string {
	l, ok := it[name].(*types.AttributeValueMemberL)
	if !ok {
		return nil
	}
	var out []string
	for _, v := range l.Value {
		if s, ok := v.(*types.AttributeValueMemberS); ok {
			out = append(out, s.Value)
		}
	}
	return out
}

func (it item) num(name string) int {
	if v, ok := it[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.Atoi(v.Value)
		return n
	}
	return 0
}

func (it item) time(name string) time.Time {
	s := it.str(name)
	if s == "" {
		return time.Time{}
	}
	t, _ := time.Parse(timeLayout, s)
	return t
}

// update builds an UpdateExpression: SET for values, REMOVE for empty
// strings (so that absent means empty), raw clauses for the rest.
type update struct {
	set    []string
	remove []string
	values map[string]types.AttributeValue
}

func newUpdate() *update { return &update{values: map[string]types.AttributeValue{}} }

// str sets attribute name to v, or removes it when v is empty.
func (u *update) str(name, v string) *update {
	if v == "" {
		u.remove = append(u.remove, "#"+name)
		return u
	}
	u.set = append(u.set, "#"+name+" = :"+name)
	u.values[":"+name] = str(v)
	return u
}

// num sets attribute name to v.
func (u *update) num(name string, v int) *update {
	u.set = append(u.set, "#"+name+" = :"+name)
	u.values[":"+name] = num(v)
	return u
}

// del removes attributes.
func (u *update) del(names ...string) *update {
	for _, n := range names {
		u.remove = append(u.remove, "#"+n)
	}
	return u
}

func (u *update) value(name string, v types.AttributeValue) *update {
	u.values[name] = v
	return u
}

func (u *update) String() string {
	var b strings.Builder
	if len(u.set) > 0 {
		b.WriteString("SET " + strings.Join(u.set, ", "))
	}
	if len(u.remove) > 0 {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		b.WriteString("REMOVE " + strings.Join(u.remove, ", "))
	}
	return b.String()
}

var namePlaceholder = regexp.MustCompile(`#[A-Za-z0-9_]+`)

// names is the ExpressionAttributeNames of expressions that name every
// attribute as #attribute (DynamoDB has hundreds of reserved words, among
// them user, count, status and rule; and it rejects unused names).
func names(exprs ...string) map[string]string {
	m := map[string]string{}
	for _, e := range exprs {
		for _, n := range namePlaceholder.FindAllString(e, -1) {
			m[n] = n[1:]
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}
