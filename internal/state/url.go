package state

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// The schemes of a state URL.
const (
	SchemeSQLite   = "sqlite"   // sqlite://PATH: a local file
	SchemeDynamoDB = "dynamodb" // dynamodb://TABLE: an existing table
)

// URL is a parsed state URL (--state, state.url).
type URL struct {
	// Scheme is SchemeSQLite or SchemeDynamoDB.
	Scheme string
	// Path is the SQLite file, or the DynamoDB table's name.
	Path string
}

func (u URL) String() string { return u.Scheme + "://" + u.Path }

// TableNamePattern is what DynamoDB accepts as a table name.
const TableNamePattern = `^[A-Za-z0-9_.-]{3,255}$`

var tableName = regexp.MustCompile(TableNamePattern)

// ErrScheme is ParseURL's error for a URL of neither scheme.
var ErrScheme = errors.New("want sqlite://PATH or dynamodb://TABLE")

// ValidTableName reports whether name is a DynamoDB table name (3-255
// letters, digits, _ . -).
func ValidTableName(name string) bool { return tableName.MatchString(name) }

// ParseURL reads a state URL: sqlite://PATH, or dynamodb://TABLE with a
// valid table name. Its errors say what is wrong without naming where the
// URL came from; the caller adds that ("--state …", "state.url").
func ParseURL(s string) (URL, error) {
	if path, ok := strings.CutPrefix(s, SchemeSQLite+"://"); ok {
		if path == "" {
			return URL{}, fmt.Errorf("sqlite:// needs a file path, e.g. %s", DefaultURL)
		}
		return URL{Scheme: SchemeSQLite, Path: path}, nil
	}
	if table, ok := strings.CutPrefix(s, SchemeDynamoDB+"://"); ok {
		if !ValidTableName(table) {
			return URL{}, fmt.Errorf("%q is not a DynamoDB table name (3-255 letters, digits, _ . -)", table)
		}
		return URL{Scheme: SchemeDynamoDB, Path: table}, nil
	}
	return URL{}, ErrScheme
}
