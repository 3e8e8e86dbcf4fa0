# No provider: the policy is computed from the inputs alone, so that it can be
# planned, applied and checked against `keywarden iam-policy` offline.
terraform {
  required_version = ">= 1.5.0"
}
