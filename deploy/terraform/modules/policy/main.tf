# The least-privilege policy keywarden needs, computed the way
# internal/iampolicy.For computes it: the same statements, in the same order,
# with the same sorted actions and resources. deploy/terraform_test.go applies
# this module for several configurations and compares the document with
# `keywarden iam-policy` for the equivalent config, statement by statement.

locals {
  # The scan's reads (ListSigningCertificates and
  # ListServiceSpecificCredentials are also the re-checks of the two kinds);
  # SSH public keys only for the opt-in ssh_key_age rule.
  scan_actions = concat([
    "iam:GenerateCredentialReport",
    "iam:GetCredentialReport",
    "iam:GetAccountAuthorizationDetails",
    "iam:GetAccountPasswordPolicy",
    "iam:ListAccountAliases",
    "iam:ListAccessKeys",
    "iam:GetAccountSummary",
    "iam:ListSigningCertificates",
    "iam:ListServiceSpecificCredentials",
  ], var.ssh_key_age ? ["iam:ListSSHPublicKeys"] : [])
  # What the DynamoDB state store's calls need (iampolicy.DynamoDBActions;
  # its transactions are authorized by their items' PutItem and UpdateItem).
  dynamodb_actions = [
    "dynamodb:DescribeTable",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
  ]
  # SES authorizes an SES v2 SendEmail with raw MIME content as
  # ses:SendRawEmail and a simple one as ses:SendEmail.
  ses_actions          = ["ses:SendEmail", "ses:SendRawEmail"]
  security_hub_actions = ["securityhub:BatchImportFindings", "securityhub:BatchUpdateFindings", "securityhub:GetFindings"]
  arn                  = "arn:${var.partition}"

  # A rotation retires the old key with a disable, then a delete, and
  # deletes a new key whose secret could not be written.
  rotate           = var.rotation != null
  disable_keys     = contains(var.remediation, "disable") || contains(var.remediation, "delete") || local.rotate
  delete_keys      = contains(var.remediation, "delete") || local.rotate
  remove_passwords = contains(var.remediation, "remove_password")
  disable_certs    = contains(var.remediation, "disable_signing_certificates") || contains(var.remediation, "delete_signing_certificates")
  delete_certs     = contains(var.remediation, "delete_signing_certificates")
  disable_services = contains(var.remediation, "disable_service_credentials") || contains(var.remediation, "delete_service_credentials")
  delete_services  = contains(var.remediation, "delete_service_credentials")
  recheck = concat(
    local.disable_keys ? ["iam:GetAccessKeyLastUsed"] : [],
    local.remove_passwords ? ["iam:GetLoginProfile", "iam:GetUser"] : [],
  )
  # A delete stage disables an active key (certificate, credential) first.
  write = concat(
    local.disable_keys ? ["iam:UpdateAccessKey"] : [],
    local.delete_keys ? ["iam:DeleteAccessKey"] : [],
    local.remove_passwords ? ["iam:DeleteLoginProfile"] : [],
  )
  cert_write = concat(
    local.disable_certs ? ["iam:UpdateSigningCertificate"] : [],
    local.delete_certs ? ["iam:DeleteSigningCertificate"] : [],
  )
  service_write = concat(
    local.disable_services ? ["iam:UpdateServiceSpecificCredential"] : [],
    local.delete_services ? ["iam:DeleteServiceSpecificCredential"] : [],
  )

  org_role    = try(var.organization.role_name, "")
  org_ous     = length(try(var.organization.ous, [])) > 0
  org_exclude = try(var.organization.exclude, [])

  # Where keywarden changes credentials (iampolicy.Reach): the allowed
  # accounts the config reaches, with the runner's own credentials (own)
  # or through the member role (member). runner_account, when known,
  # narrows own to it and leaves it out of an organization's member list.
  allowed       = sort(distinct(var.allowed_accounts))
  role_accounts = distinct([for arn in var.listed_role_arns : split(":", arn)[4] if arn != ""])
  listed        = length(var.listed_accounts) > 0 || length(local.role_accounts) > 0
  is_runner     = { for a in local.allowed : a => var.runner_account == "" || a == var.runner_account }
  own_accounts = [for a in local.allowed : a if local.is_runner[a] && (
    local.org_role != "" ? !contains(local.org_exclude, a) :
    local.listed ? contains(var.listed_accounts, a) && !contains(local.role_accounts, a) : true
  )]
  member_accounts = [for a in local.allowed : a if(
    local.org_role != "" ? !contains(local.org_exclude, a) && a != var.runner_account : contains(local.role_accounts, a)
  )]
  write_accounts = var.role == "member" ? local.member_accounts : local.own_accounts
  users          = [for a in local.write_accounts : "${local.arn}:iam::${a}:user/*"]

  # Rotation (iampolicy.RotationStatements): the secrets and parameters
  # rotation.secret_name names ({user} as *) in each account keywarden acts
  # in with this identity. Secrets Manager ends a secret's ARN with a
  # hyphen and six random characters; a secret that does not exist is
  # authorized on its name.
  rotate_accounts = local.rotate ? local.write_accounts : []
  secret_pattern  = replace(try(var.rotation.secret_name, "keywarden/{user}"), "{user}", "*")
  secret_name     = "${local.arn}:secretsmanager:*:*:secret:${local.secret_pattern}"
  rotate_param    = "${local.arn}:ssm:*:*:parameter/${trimprefix(local.secret_pattern, "/")}"
  create_secrets  = local.rotate && try(var.rotation.create_secret, false)
  # The accounts by a condition (a list), the name pattern in the ARN.
  in_accounts = { StringEquals = { "aws:ResourceAccount" = sort(local.rotate_accounts) } }
  create_condition = merge(local.in_accounts, {
    StringLike                  = { "aws:RequestTag/keywarden:user" = ["?*"] }
    "ForAllValues:StringEquals" = { "aws:TagKeys" = ["keywarden:user"] }
  })
  any_rotation = length(local.rotate_accounts) > 0
  rotate_statements = [
    { sid = "RotateAccessKeys", actions = ["iam:CreateAccessKey", "iam:GetAccessKeyLastUsed", "iam:ListAccessKeys"], resources = [for a in local.rotate_accounts : "${local.arn}:iam::${a}:user/*"], condition = local.no_condition },
    { sid = "DescribeRotationSecrets", actions = ["secretsmanager:DescribeSecret", "secretsmanager:GetResourcePolicy"], resources = local.any_rotation ? (endswith(local.secret_name, "*") ? [local.secret_name] : [local.secret_name, "${local.secret_name}-??????"]) : [], condition = local.in_accounts },
    { sid = "WriteRotationSecrets", actions = ["secretsmanager:PutSecretValue"], resources = local.any_rotation ? ["${local.secret_name}-??????"] : [], condition = local.in_accounts },
    { sid = "CreateRotationSecrets", actions = ["secretsmanager:CreateSecret", "secretsmanager:TagResource"], resources = local.any_rotation && local.create_secrets ? ["${local.secret_name}-??????"] : [], condition = local.create_condition },
    # DescribeParameters is authorized on "*" only (metadata, never a value).
    { sid = "DescribeRotationParameters", actions = ["ssm:DescribeParameters"], resources = local.any_rotation ? ["*"] : [], condition = local.no_condition },
    { sid = "WriteRotationParameters", actions = ["ssm:ListTagsForResource", "ssm:PutParameter"], resources = local.any_rotation ? [local.rotate_param] : [], condition = local.in_accounts },
    { sid = "CreateRotationParameters", actions = ["ssm:AddTagsToResource"], resources = local.any_rotation && local.create_secrets ? [local.rotate_param] : [], condition = local.create_condition },
    # A target's KMS key, resolved to its account (keys of the accounts only).
    { sid = "DescribeRotationKeys", actions = ["kms:DescribeKey"], resources = local.any_rotation ? ["*"] : [], condition = local.in_accounts },
    # Customer managed keys of the secrets and parameters, in the accounts,
    # through those services only.
    { sid = "EncryptRotationSecrets", actions = ["kms:Encrypt", "kms:GenerateDataKey"], resources = local.any_rotation ? ["*"] : [],
    condition = merge(local.in_accounts, { StringLike = { "kms:ViaService" = ["secretsmanager.*.amazonaws.com", "ssm.*.amazonaws.com"] } }) },
  ]

  ses_address = try(regex("<([^<>]+)>\\s*$", var.ses_from)[0], trimspace(var.ses_from))
  ses_domain  = try(regex("@([^@]+)$", local.ses_address)[0], "")
  ses_region  = var.ses_region != "" ? var.ses_region : "*"
  ses_resources = var.ses_from == "" ? [] : concat(
    ["${local.arn}:ses:${local.ses_region}:*:identity/${local.ses_address}", "${local.arn}:ses:${local.ses_region}:*:identity/${local.ses_domain}"],
    var.ses_configuration_set != "" ? ["${local.arn}:ses:${local.ses_region}:*:configuration-set/${var.ses_configuration_set}"] : [],
  )

  # The ARN of each SSM parameter named by a name ("/keywarden/slack" or
  # "keywarden-slack") or an ARN.
  parameter_arns = {
    for name in distinct(concat(var.secret_parameters, [var.config_ssm, var.stop_parameter])) :
    name => startswith(name, "arn:") ? name : "${local.arn}:ssm:*:*:parameter/${trimprefix(name, "/")}" if name != ""
  }
  parameters = [for name in concat(var.secret_parameters, [var.config_ssm]) : local.parameter_arns[name] if name != ""]
  # The emergency stop, read before each action: only where the policy can
  # act at all, in the runner's own account or through the member role.
  read_stop = var.stop_parameter != "" && length(concat(local.write, local.cert_write, local.service_write)) > 0 && length(local.own_accounts) + length(local.member_accounts) > 0
  table_arn = "${local.arn}:dynamodb:*:*:table/${var.dynamodb_table}"

  # IAM in the account the identity lives in: the runner's own account, or
  # each member account. Only AssumeMemberRole has a condition: the role in
  # an account of the caller's own organization.
  no_condition = {}
  member_statements = [
    { sid = "ReadIAMCredentials", actions = local.scan_actions, resources = ["*"], condition = local.no_condition },
    { sid = "RecheckCredentials", actions = local.recheck, resources = local.users, condition = local.no_condition },
    { sid = "RemediateCredentials", actions = local.write, resources = local.users, condition = local.no_condition },
    { sid = "RemediateSigningCertificates", actions = local.cert_write, resources = local.users, condition = local.no_condition },
    { sid = "RemediateServiceCredentials", actions = local.service_write, resources = local.users, condition = local.no_condition },
  ]
  runner_statements = [
    { sid = "ReadStopParameter", actions = ["ssm:GetParameter"], resources = local.read_stop ? [local.parameter_arns[var.stop_parameter]] : [], condition = local.no_condition },
    { sid = "ListOrganizationAccounts", actions = local.org_role != "" && !local.org_ous ? ["organizations:ListAccounts"] : [], resources = ["*"], condition = local.no_condition },
    { sid = "ListOrganizationalUnits", actions = local.org_role != "" && local.org_ous ? ["organizations:ListAccountsForParent", "organizations:ListOrganizationalUnitsForParent"] : [], resources = ["*"], condition = local.no_condition },
    { sid = "AssumeMemberRole", actions = ["sts:AssumeRole"], resources = local.org_role != "" ? ["${local.arn}:iam::*:role/${local.org_role}"] : [],
    condition = { StringEquals = { "aws:ResourceOrgID" = ["$${aws:PrincipalOrgID}"] } } },
    { sid = "AssumeListedRoles", actions = ["sts:AssumeRole"], resources = [for arn in var.listed_role_arns : arn if arn != ""], condition = local.no_condition },
    { sid = "SendMailWithSES", actions = local.ses_actions, resources = local.ses_resources, condition = local.no_condition },
    { sid = "PublishDigest", actions = ["sns:Publish"], resources = var.sns_topic_arn != "" ? [var.sns_topic_arn] : [], condition = local.no_condition },
    { sid = "ReadSecretParameters", actions = ["ssm:GetParameter"], resources = local.parameters, condition = local.no_condition },
    { sid = "DecryptSecretParameters", actions = ["kms:Decrypt"], resources = length(local.parameters) > 0 ? var.kms_key_arns : [], condition = local.no_condition },
    { sid = "ReadConfigObject", actions = ["s3:GetObject"], resources = var.config_s3 != "" ? ["${local.arn}:s3:::${trimprefix(var.config_s3, "s3://")}"] : [], condition = local.no_condition },
    { sid = "KeepStateInDynamoDB", actions = local.dynamodb_actions, resources = var.dynamodb_table != "" ? [local.table_arn] : [], condition = local.no_condition },
    # Only a Query reads an index.
    { sid = "QueryStateIndex", actions = ["dynamodb:Query"], resources = var.dynamodb_table != "" ? ["${local.table_arn}/index/*"] : [], condition = local.no_condition },
    { sid = "ImportSecurityHubFindings", actions = var.security_hub ? local.security_hub_actions : [], resources = ["*"], condition = local.no_condition },
  ]

  # A statement without actions or resources is left out, as iampolicy does.
  statements = [
    for s in concat(local.member_statements, local.rotate_statements, var.role == "runner" ? local.runner_statements : []) : merge({
      Sid      = s.sid
      Effect   = "Allow"
      Action   = sort(distinct(s.actions))
      Resource = sort(distinct(s.resources))
    }, length(s.condition) > 0 ? { Condition = s.condition } : {}) if length(s.actions) > 0 && length(s.resources) > 0
  ]
  document = {
    Version   = "2012-10-17"
    Statement = local.statements
  }
}
