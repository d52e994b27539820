output "emails" {
  description = "Service account emails by workload key (the api account's id is api-service)."
  value       = { for id, sa in google_service_account.this : id => sa.email }
}

# Built from the account ids rather than read from the accounts (whose email and member are known only
# after apply) because other modules use these members in for_each, whose keys must be known at plan
# time. depends_on keeps every grant waiting for the accounts.
output "members" {
  description = "IAM members (serviceAccount:EMAIL) by workload key, known at plan time (the api account's id is api-service)."
  value = {
    for id, account in var.accounts :
    id => "serviceAccount:${coalesce(account.account_id, id)}@${var.project_id}.iam.gserviceaccount.com"
  }
  depends_on = [google_service_account.this]
}

output "ids" {
  description = "Service account resource ids by workload key (for IAM bindings on the accounts)."
  value       = { for id, sa in google_service_account.this : id => sa.name }
}
