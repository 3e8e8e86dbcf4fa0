// Package outbox is the local notification channel: every message is
// written as one .eml file (RFC 5322, plain text and HTML parts) into a
// directory, where any mail client can open it. It is the default channel,
// so keywarden works with no mail setup at all.
package outbox
