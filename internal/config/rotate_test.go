package config

import (
	"testing"
)

func TestRotateDefaults(t *testing.T) {
	c, err := Parse("k.yaml", []byte("version: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Rotate.SecretName != DefaultSecretName || c.Rotate.OverlapDays != DefaultOverlapDays || c.Rotate.CreateSecret || len(c.Rotate.Targets) != 0 {
		t.Errorf("default rotate = %+v; want secret_name %q, overlap_days %d, no create_secret, no targets", c.Rotate, DefaultSecretName, DefaultOverlapDays)
	}
}

func TestRotateValid(t *testing.T) {
	yaml := `version: 1
rules:
  access_key_age:
    machine: [{at: 60, action: notify}, {at: 80, action: rotate}, {at: 120, action: disable}, {at: 130, action: delete}]
rotate:
  secret_name: "ci/{user}/key"
  overlap_days: 3
  create_secret: true
  targets:
    - {user: deployer, secret: "ci/deployer/key"}
    - {class: machine, secret: "ci/{user}/key"}
    - {class: human, secret: "ssm:/ci/{user}/key"}
    - {user: bob, secret: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ci/bob/key-AbCdEf"}
`
	c, err := Parse("k.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if c.Rotate.OverlapDays != 3 || !c.Rotate.CreateSecret || len(c.Rotate.Targets) != 4 {
		t.Errorf("rotate = %+v", c.Rotate)
	}
	if s := c.Rules.AccessKeyAge["machine"][1]; s.Action != ActionRotate || s.Severity != SeverityMedium {
		t.Errorf("rotate stage = %+v; want action rotate, severity medium (the default: nothing stops working)", s)
	}
}

func TestRotateErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"rotate in a certificate stage", "version: 1\nrules:\n  signing_certificate_age:\n    human: [{at: 80, action: rotate}]\n",
			`k.yaml:4: rules.signing_certificate_age.human[0].action: unknown action "rotate" (want notify, disable or delete)`},
		{"rotate in a service-credential stage", "version: 1\nrules:\n  service_credential_age:\n    human: [{at: 80, action: rotate}]\n",
			`k.yaml:4: rules.service_credential_age.human[0].action: unknown action "rotate" (want notify, disable or delete)`},
		{"rotate after disable", "version: 1\nrules:\n  access_key_age:\n    human:\n      - {at: 80, action: disable}\n      - {at: 90, action: rotate}\n",
			"k.yaml:6: rules.access_key_age.human[1].action: rotate after the disable stage at 80 days; a rotation needs an active key: put it before every disable and delete stage"},
		{"rotate after delete", "version: 1\nrules:\n  access_key_age:\n    human:\n      - {at: 80, action: delete}\n      - {at: 90, action: rotate}\n",
			"k.yaml:6: rules.access_key_age.human[1].action: rotate after the delete stage at 80 days; a rotation needs an active key: put it before every disable and delete stage"},
		{"two rotate stages", "version: 1\nrules:\n  access_key_age:\n    human:\n      - {at: 80, action: rotate}\n      - {at: 90, action: rotate}\n",
			"k.yaml:6: rules.access_key_age.human[1].action: a second rotate stage (the first is at 80 days); a rotated key is retired by its rotation, so one rotate stage is enough"},
		{"secret_name without user", "version: 1\nrotate:\n  secret_name: keywarden/ci\n",
			`k.yaml:3: rotate.secret_name: "keywarden/ci" does not contain {user}: every user's key would go to the same secret`},
		{"secret_name illegal", "version: 1\nrotate:\n  secret_name: \"key warden/{user}\"\n",
			`k.yaml:3: rotate.secret_name: "key warden/{user}" is not a Secrets Manager secret name pattern (1-512 letters, digits, /_+=.@- and {user})`},
		{"overlap_days zero", "version: 1\nrotate:\n  overlap_days: 0\n",
			"k.yaml:3: rotate.overlap_days: must be between 1 and 36500 (got 0)"},
		{"target without class or user", "version: 1\nrotate:\n  targets:\n    - {secret: \"keywarden/{user}\"}\n",
			"k.yaml:4: rotate.targets[0]: needs class or user"},
		{"target with both", "version: 1\nrotate:\n  targets:\n    - {class: human, user: bob, secret: \"keywarden/{user}\"}\n",
			"k.yaml:4: rotate.targets[0]: class and user are mutually exclusive; keep one"},
		{"target of an undefined class", "version: 1\nrotate:\n  targets:\n    - {class: robots, secret: \"keywarden/{user}\"}\n",
			`k.yaml:4: rotate.targets[0].class: unknown class "robots" (define it under classes, or use human)`},
		{"target without secret", "version: 1\nrotate:\n  targets:\n    - {class: human}\n",
			"k.yaml:4: rotate.targets[0].secret: required (a Secrets Manager secret name or ARN, or ssm:/path; {user} is the user's name)"},
		{"target not a target", "version: 1\nrotate:\n  targets:\n    - {class: human, secret: \"ssm:relative\"}\n",
			`k.yaml:4: rotate.targets[0].secret: "ssm:relative" is not a rotation target (want a Secrets Manager secret name or ARN, or ssm:/path; {user} is the user's name)`},
		{"target outside secret_name", "version: 1\nrotate:\n  targets:\n    - {class: human, secret: \"shared/{user}\"}\n",
			`k.yaml:4: rotate.targets[0].secret: "shared/{user}" does not match rotate.secret_name (want keywarden/{user}): a rotation would refuse it`},
		{"ssm target outside secret_name", "version: 1\nrotate:\n  targets:\n    - {user: bob, secret: \"ssm:/keywarden/alice\"}\n",
			`k.yaml:4: rotate.targets[0].secret: "ssm:/keywarden/alice" does not match rotate.secret_name (want ssm:/keywarden/{user}): a rotation would refuse it`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("k.yaml", []byte(tt.yaml))
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse error =\n%v\nwant\n%s", err, tt.want)
			}
		})
	}
}

func TestRotateTargetOf(t *testing.T) {
	r := Rotate{Targets: []RotateTarget{
		{Class: "machine", Secret: "keywarden/{user}"},
		{User: "ci", Secret: "ssm:/keywarden/ci"},
		{Class: "machine", Secret: "other/{user}"},
	}}
	tests := []struct {
		user, class string
		tags        map[string]string
		want        string
	}{
		{"ci", "machine", map[string]string{TagSecret: "keywarden/ci-tagged"}, "keywarden/ci-tagged"},
		{"ci", "machine", nil, "ssm:/keywarden/ci"},
		{"deploy", "machine", nil, "keywarden/deploy"},
		{"alice", DefaultClass, map[string]string{"Owner": "x"}, ""},
	}
	for _, tt := range tests {
		if got := r.TargetOf(tt.user, tt.class, tt.tags); got != tt.want {
			t.Errorf("TargetOf(%s, %s, %v) = %q; want %q", tt.user, tt.class, tt.tags, got, tt.want)
		}
	}
}

func TestStagesOfRotateNotifiesOtherCredentials(t *testing.T) {
	r := Rules{AccessKeyAge: map[string][]Stage{"machine": {{At: 80, Action: ActionRotate}, {At: 120, Action: ActionDisable}}}}
	got := r.StagesOf(RuleSigningCertAge, "machine")
	if len(got) != 2 || got[0].Action != ActionNotify || got[1].Action != ActionDisable {
		t.Errorf("signing_certificate_age stages of machine = %+v; want notify at 80 (no rotation of a certificate), disable at 120", got)
	}
	if r.AccessKeyAge["machine"][0].Action != ActionRotate {
		t.Error("StagesOf changed the access_key_age stages themselves")
	}
}
