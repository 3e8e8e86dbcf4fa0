package config

import (
	"bytes"
	_ "embed"
)

//go:embed keywarden.init.yaml
var initYAML []byte

// InitYAML is the commented starter config that `keywarden config init`
// writes: every key with its default value and a one-line comment. It
// parses to Default() but for StarterNoticeBeforeAction: a new config
// warns owners a week ahead, while a config without the key keeps acting
// as it did.
func InitYAML() []byte { return bytes.Clone(initYAML) }

// StarterNoticeBeforeAction is enforce.notice_before_action in the starter
// config (the built-in default is 0).
const StarterNoticeBeforeAction = 7
