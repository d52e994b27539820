output "emails" {
  description = "Service account emails by workload key (the api account's id is api-service)."
  value       = { for id, sa in google_service_account.this : id => sa.email }
}

output "members" {
  description = "IAM members (serviceAccount:EMAIL) by workload key (the api account's id is api-service)."
  value       = { for id, sa in google_service_account.this : id => sa.member }
}

output "ids" {
  description = "Service account resource ids by workload key (for IAM bindings on the accounts)."
  value       = { for id, sa in google_service_account.this : id => sa.name }
}
