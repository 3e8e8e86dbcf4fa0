// Package ses is the notification channel over Amazon SES v2: one
// SendEmail call per message, with the MIME message (plain text and HTML)
// as raw content, from notify.from, with the optional configuration set.
package ses
