// Package awsapi loads the AWS SDK configuration the way every keywarden
// command does (standard settings, standard retries, per-attempt timeouts) and counts the API
// calls made with it, per operation.
package awsapi
