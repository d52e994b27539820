provider "google" {
  project               = var.project_id
  region                = var.region
  billing_project       = var.project_id
  user_project_override = true
}

module "platform" {
  source = "../../modules/platform"

  project_id                     = var.project_id
  region                         = var.region
  env                            = var.env
  api_image                      = var.api_image
  api_min_instances              = var.api_min_instances
  api_max_instances              = 5
  alert_email                    = var.alert_email
  billing_account                = var.billing_account
  monthly_budget_usd             = var.monthly_budget_usd
  hourly_credit_threshold        = var.hourly_credit_threshold
  log_level                      = var.log_level
  redis_tier                     = var.redis_tier
  redis_memory_gb                = var.redis_memory_gb
  firestore_location             = var.firestore_location
  media_retention_days           = var.media_retention_days
  jobs_max_dispatches_per_second = 20
  jobs_max_concurrent_dispatches = 50
  billing_return_url             = var.billing_return_url
  sslcommerz_store_id            = var.sslcommerz_store_id
  sslcommerz_api_base            = var.sslcommerz_api_base
  google_client_id               = var.google_client_id
  public_api_url                 = var.public_api_url
  smtp_host                      = var.smtp_host
  smtp_port                      = var.smtp_port
  smtp_security                  = var.smtp_security
  smtp_user                      = var.smtp_user
  mail_from                      = var.mail_from
  cors_origins                   = var.cors_origins
}
