package awsapi

import (
	"fmt"
	"strings"
)

// ParseS3URL splits s3://BUCKET/KEY. The key is everything after the
// bucket's slash, as given: S3 keys may hold any character.
func ParseS3URL(s string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if ok {
		bucket, key, ok = strings.Cut(rest, "/")
	}
	if !ok || bucket == "" || key == "" {
		return "", "", fmt.Errorf("%q: want s3://BUCKET/KEY", s)
	}
	return bucket, key, nil
}
