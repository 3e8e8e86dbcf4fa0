package awsapi_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/keywarden/keywarden/internal/awsapi"
)

// pages answers ListServiceSpecificCredentials from a list of markers:
// call n answers markers[n] ("" ends the listing; "-" is a truncated page
// without a marker), one credential a page.
type pages struct {
	markers []string
	asked   []string // the Marker of each call
}

func (p *pages) ListServiceSpecificCredentials(_ context.Context, in *iam.ListServiceSpecificCredentialsInput, _ ...func(*iam.Options)) (*iam.ListServiceSpecificCredentialsOutput, error) {
	n := len(p.asked)
	p.asked = append(p.asked, aws.ToString(in.Marker))
	if n >= len(p.markers) {
		return nil, errors.New("called past the last page")
	}
	out := &iam.ListServiceSpecificCredentialsOutput{ServiceSpecificCredentials: []types.ServiceSpecificCredentialMetadata{
		{ServiceSpecificCredentialId: aws.String("ACCA" + p.markers[n])}}}
	switch p.markers[n] {
	case "":
	case "-":
		out.IsTruncated = true
	default:
		out.IsTruncated, out.Marker = true, aws.String(p.markers[n])
	}
	return out, nil
}

func TestServiceCredentialPages(t *testing.T) {
	tests := []struct {
		name      string
		markers   []string
		stopAfter int // page stops the listing after this many pages (0: never)
		wantAsked []string
		wantErr   string
	}{
		{"one page", []string{""}, 0, []string{""}, ""},
		{"each marker in turn", []string{"m1", "m2", ""}, 0, []string{"", "m1", "m2"}, ""},
		{"stopped early", []string{"m1", "m2", ""}, 2, []string{"", "m1"}, ""},
		{"the same marker twice in a row", []string{"m1", "m1", ""}, 0, []string{"", "m1"},
			"list (page 2): IAM answered the same marker again"},
		{"a marker of an earlier page", []string{"m1", "m2", "m1", ""}, 0, []string{"", "m1", "m2"},
			"list (page 3): IAM answered the same marker again"},
		// A partial list is never taken for the whole: the collector would
		// mark it read, reconcile a missing credential deleted.
		{"truncated without a marker", []string{"m1", "-"}, 0, []string{"", "m1"},
			"list (page 2): IAM answered IsTruncated without a Marker"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &pages{markers: tt.markers}
			n := 0
			err := awsapi.ServiceCredentialPages(context.Background(), p, "list", iam.ListServiceSpecificCredentialsInput{UserName: aws.String("alice")},
				func(*iam.ListServiceSpecificCredentialsOutput) bool {
					n++
					return n != tt.stopAfter
				})
			if got := errString(err); got != tt.wantErr {
				t.Errorf("error = %q; want %q", got, tt.wantErr)
			}
			if !slices.Equal(p.asked, tt.wantAsked) {
				t.Errorf("markers asked = %q; want %q", p.asked, tt.wantAsked)
			}
		})
	}
}

// TestServiceCredentialPagesError: IAM's error is wrapped with the page.
func TestServiceCredentialPagesError(t *testing.T) {
	p := &pages{markers: []string{"m1"}}
	err := awsapi.ServiceCredentialPages(context.Background(), p, "list", iam.ListServiceSpecificCredentialsInput{},
		func(*iam.ListServiceSpecificCredentialsOutput) bool { return true })
	if want := "list (page 2): called past the last page"; errString(err) != want {
		t.Errorf("error = %v; want %q", err, want)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
