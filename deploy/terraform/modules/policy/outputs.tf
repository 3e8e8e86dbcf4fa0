output "json" {
  description = "The policy document as JSON, for aws_iam_role_policy.policy (or aws_iam_policy.policy)."
  value       = jsonencode(local.document)
}

output "document" {
  description = "The policy document as an object: Version and Statement (Sid, Effect, Action, Resource, and Condition where there is one)."
  value       = local.document
}

output "actions" {
  description = "Every action the document grants, sorted (as `keywarden iam-policy --format actions`)."
  value       = sort(distinct(flatten([for s in local.statements : s.Action])))
}
