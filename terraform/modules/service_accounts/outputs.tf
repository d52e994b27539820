output "emails" {
  description = "Service account emails by account_id."
  value       = { for id, sa in google_service_account.this : id => sa.email }
}

output "members" {
  description = "IAM members (serviceAccount:EMAIL) by account_id."
  value       = { for id, sa in google_service_account.this : id => sa.member }
}

output "ids" {
  description = "Service account resource ids by account_id (for IAM bindings on the accounts)."
  value       = { for id, sa in google_service_account.this : id => sa.name }
}
