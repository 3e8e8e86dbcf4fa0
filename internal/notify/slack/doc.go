// Package slack is the admin digest's channel to a Slack incoming webhook,
// as Block Kit: a header, the summary, each account's counts, the findings
// that are new or due (the first ones; the email digest has them all),
// the actions and the owners keywarden cannot mail.
package slack
