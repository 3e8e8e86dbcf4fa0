package config

import (
	"bytes"
	_ "embed"
)

//go:embed keywarden.init.yaml
var initYAML []byte

// InitYAML is the commented starter config that `keywarden config init`
// writes: every key with its default value and a one-line comment. It
// parses to exactly Default().
func InitYAML() []byte { return bytes.Clone(initYAML) }
