output "api_url" {
  description = "The chat API's URL."
  value       = module.api.uri
}

output "payments_url" {
  description = "The payments webhook function's URL."
  value       = local.function_url["payments"]
}

output "jobs_worker_url" {
  description = "The jobs worker function's URL (Cloud Tasks target and OIDC audience)."
  value       = local.function_url["jobs-worker"]
}

output "reconciler_url" {
  description = "The reconciler function's URL (Cloud Scheduler target)."
  value       = local.function_url["reconciler"]
}

output "image_repository" {
  description = "Docker image prefix for Cloud Build: REGION-docker.pkg.dev/PROJECT/ai-backend."
  value       = module.artifact_registry.repository_url
}

output "service_accounts" {
  description = "Service account emails by workload key (the api account's id is api-service)."
  value       = module.service_accounts.emails
}

output "media_bucket" {
  description = "JOBS_BUCKET: the bucket of job outputs."
  value       = module.media_bucket.name
}

output "function_source_bucket" {
  description = "Bucket of the functions' source archives."
  value       = module.source_bucket.name
}

output "redis_url" {
  description = "REDIS_URL of the Memorystore instance."
  value       = module.redis.url
}
