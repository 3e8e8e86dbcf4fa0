// Package sns is the admin digest's channel over Amazon SNS: the digest's
// subject and plain text published to notify.admins.sns_topic_arn.
package sns
