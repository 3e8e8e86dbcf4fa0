// Package notify turns a plan's owner messages and admin digests into
// messages (subject, plain text and HTML from templates) and hands them to
// channels. Each channel is its own package under notify: ses, smtp, sns,
// slack, webhook and outbox; all implement Channel.
//
// Templates are embedded defaults (templates/), each replaceable by a file
// named in notify.templates. Subjects and plain text use text/template;
// HTML uses html/template, so user names, tags and anything else that
// comes from IAM are escaped. CheckTemplates renders every template
// against sample data, so `keywarden config check` finds a broken one.
//
// Secrets (webhook URLs, the SMTP password) come from the environment or
// from SSM parameters (Secrets), never from the config file, and are never
// part of an error message.
package notify
