// Package awsapi loads the AWS SDK configuration the way every keywarden
// command does (standard settings, adaptive retries) and counts the API
// calls made with it, per operation.
package awsapi
