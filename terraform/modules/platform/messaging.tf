module "budget_alerts_topic" {
  source     = "../pubsub_topic"
  depends_on = [module.project_services]

  project_id     = var.project_id
  project_number = data.google_project.this.number
  name           = "budget-alerts"
  subscriptions  = ["budget-alerts-sub"]
  publishers     = [local.sa["api"], local.sa["jobs-worker"], local.sa["reconciler"]]
  labels         = local.labels
}

module "job_events_topic" {
  source     = "../pubsub_topic"
  depends_on = [module.project_services]

  project_id     = var.project_id
  project_number = data.google_project.this.number
  name           = "job-events"
  subscriptions  = ["job-events-sub"]
  publishers     = [local.sa["api"], local.sa["jobs-worker"], local.sa["reconciler"]]
  labels         = local.labels
}

module "billing_alerts_topic" {
  source     = "../pubsub_topic"
  depends_on = [module.project_services]

  project_id     = var.project_id
  project_number = data.google_project.this.number
  name           = "billing-budget-alerts"
  subscriptions  = ["billing-budget-alerts-sub"]
  labels         = local.labels
}

module "jobs_queue" {
  source     = "../tasks_queue"
  depends_on = [module.project_services]

  project_id                = var.project_id
  location                  = var.region
  name                      = "jobs"
  max_attempts              = 5
  min_backoff               = "5s"
  max_backoff               = "300s"
  max_doublings             = 4
  max_retry_duration        = "3600s"
  max_dispatches_per_second = var.jobs_max_dispatches_per_second
  max_concurrent_dispatches = var.jobs_max_concurrent_dispatches
  enqueuers                 = [for id in local.task_creators : local.sa[id]]
}
