// Package inventory holds the snapshot of one account's IAM credentials that
// every later stage works from, and the parser for the IAM credential report.
//
// It never imports the AWS SDK: the live collection over the IAM API lives in
// package collect, which fills a Snapshot; the offline mode parses a
// downloaded report straight into one.
package inventory
