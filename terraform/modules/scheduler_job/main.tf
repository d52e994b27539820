# A Cloud Scheduler job calling an HTTP target with an OIDC token of its own service account.
resource "google_cloud_scheduler_job" "this" {
  project          = var.project_id
  region           = var.region
  name             = var.name
  description      = var.description
  schedule         = var.schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = var.attempt_deadline

  retry_config {
    retry_count          = var.retry_count
    min_backoff_duration = "5s"
    max_backoff_duration = "30s"
  }

  http_target {
    http_method = "POST"
    uri         = var.target_url

    oidc_token {
      service_account_email = var.service_account_email
      audience              = var.target_url
    }
  }
}
