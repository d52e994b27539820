output "api_url" {
  description = "The chat API's URL."
  value       = module.platform.api_url
}

output "payments_url" {
  description = "The payments webhook URL (configure it at Stripe and SSLCommerz)."
  value       = module.platform.payments_url
}

output "jobs_worker_url" {
  description = "The jobs worker URL."
  value       = module.platform.jobs_worker_url
}

output "reconciler_url" {
  description = "The reconciler URL."
  value       = module.platform.reconciler_url
}

output "image_repository" {
  description = "Docker image prefix for Cloud Build."
  value       = module.platform.image_repository
}

output "service_accounts" {
  description = "Service account emails by workload key (the api account's id is api-service)."
  value       = module.platform.service_accounts
}

output "media_bucket" {
  description = "The media bucket's name."
  value       = module.platform.media_bucket
}

output "function_source_bucket" {
  description = "The function source bucket's name."
  value       = module.platform.function_source_bucket
}
