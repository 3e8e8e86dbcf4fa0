package awsapi_test

import (
	"testing"

	"github.com/keywarden/keywarden/internal/awsapi"
)

func TestParseS3URL(t *testing.T) {
	for _, tt := range []struct {
		in, bucket, key, err string
	}{
		{in: "s3://kw-config/keywarden.yaml", bucket: "kw-config", key: "keywarden.yaml"},
		{in: "s3://kw-config/prod/eu/keywarden.yaml", bucket: "kw-config", key: "prod/eu/keywarden.yaml"},
		{in: "s3://kw-config/a b?#%.yaml", bucket: "kw-config", key: "a b?#%.yaml"},
		{in: "kw-config/keywarden.yaml", err: `"kw-config/keywarden.yaml": want s3://BUCKET/KEY`},
		{in: "s3://kw-config", err: `"s3://kw-config": want s3://BUCKET/KEY`},
		{in: "s3://kw-config/", err: `"s3://kw-config/": want s3://BUCKET/KEY`},
		{in: "s3:///keywarden.yaml", err: `"s3:///keywarden.yaml": want s3://BUCKET/KEY`},
		{in: "", err: `"": want s3://BUCKET/KEY`},
	} {
		bucket, key, err := awsapi.ParseS3URL(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ParseS3URL(%q) error = %v; want %s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || bucket != tt.bucket || key != tt.key {
			t.Errorf("ParseS3URL(%q) = %q, %q, %v; want %q, %q", tt.in, bucket, key, err, tt.bucket, tt.key)
		}
	}
}
