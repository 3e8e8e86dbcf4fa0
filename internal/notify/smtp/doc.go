// Package smtp is the notification channel over SMTP submission: STARTTLS
// (required by default) before anything else, AUTH PLAIN when a user name
// is set, one connection reused for the run's messages.
package smtp
