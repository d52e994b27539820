locals {
  common_env = {
    ENVIRONMENT          = "production"
    GOOGLE_CLOUD_PROJECT = var.project_id
    SECRET_SOURCE        = "secret-manager"
    LOG_LEVEL            = var.log_level
    TRACE_EXPORTER       = "gcp" # spans to Cloud Trace (shared/telemetry/tracing.py)
    METRICS_EXPORTER     = "gcp" # metrics to Cloud Monitoring (shared/telemetry/metrics.py)
  }

  # What the API, the worker and the reconciler need to create and check job tasks, and to reach Redis:
  # rediss:// with the AUTH string from the secret redis-auth-string (REDIS_PASSWORD_SECRET names it; the
  # code reads REDIS_AUTH_STRING as Secret Manager's redis-auth-string), the server verified against the
  # instance's own CA. Memorystore's certificate is not checked against the address (its CA is unique to
  # the instance, so the chain already authenticates the server).
  jobs_env = {
    REDIS_URL                = module.redis.url
    REDIS_PASSWORD_SECRET    = "REDIS_AUTH_STRING"
    REDIS_CA_CERT            = module.redis.ca_certs
    REDIS_TLS_CHECK_HOSTNAME = "false"
    JOBS_WORKER_URL          = local.function_url["jobs-worker"]
    JOBS_OIDC_AUDIENCE       = local.function_url["jobs-worker"]
    TASKS_SERVICE_ACCOUNT    = module.service_accounts.emails["tasks-invoker"]
    TASKS_LOCATION           = var.region
    JOBS_QUEUE               = module.jobs_queue.name
    JOBS_BUCKET              = module.media_bucket.name
    JOBS_TOPIC               = module.job_events_topic.topic_name
    BUDGET_ALERTS_TOPIC      = module.budget_alerts_topic.topic_name
  }

  # Sign-up emails (shared/adapters/mail.py): the SMTP relay and where the links in them point.
  mail_env = {
    SMTP_HOST      = var.smtp_host
    SMTP_PORT      = tostring(var.smtp_port)
    SMTP_SECURITY  = var.smtp_security
    SMTP_USER      = var.smtp_user
    MAIL_FROM      = var.mail_from
    PUBLIC_API_URL = var.public_api_url
  }

  billing_env = {
    PAYMENTS_URL        = local.function_url["payments"]
    BILLING_RETURN_URL  = var.billing_return_url
    SSLCOMMERZ_STORE_ID = var.sslcommerz_store_id
    SSLCOMMERZ_API_BASE = var.sslcommerz_api_base
  }
}

module "api" {
  source     = "../cloud_run_service"
  depends_on = [module.project_services, module.secrets]

  project_id            = var.project_id
  region                = var.region
  name                  = "api"
  image                 = var.api_image
  service_account_email = module.service_accounts.emails["api"]
  public                = true
  min_instances         = var.api_min_instances
  max_instances         = var.api_max_instances
  network_name          = module.network.network_name
  subnet_name           = module.network.egress_subnet_name
  labels                = local.labels
  # CPU stays allocated outside requests: credit leases (shared/spending/leases.py) flush usage records
  # and lease progress to Firestore every second in the background, and close idle leases. With the CPU
  # throttled between requests those flushes stall, a lease's hold can expire under a live instance and
  # records reach Firestore late. Billed per instance-second instead of per request.
  cpu_idle = false

  env = merge(local.common_env, local.jobs_env, local.billing_env, local.mail_env, {
    GOOGLE_CLIENT_ID = var.google_client_id
    CORS_ORIGINS     = join(",", var.cors_origins)
  })
  secret_env = {
    JWT_SECRET              = module.secrets.secret_ids["jwt-secret"]
    WORKSPACE_INVITE_SECRET = module.secrets.secret_ids["workspace-invite-secret"]
    SMTP_PASSWORD           = module.secrets.secret_ids["smtp-password"]
  }
}

module "payments_function" {
  source     = "../cloud_function"
  depends_on = [module.project_services, module.secrets]

  project_id            = var.project_id
  region                = var.region
  name                  = "payments"
  description           = "Stripe and SSLCommerz webhooks (public; requests are authenticated by signature)."
  entry_point           = "payments"
  source_bucket         = module.source_bucket.name
  service_account_email = module.service_accounts.emails["payments"]
  public                = true
  ingress               = "ALLOW_ALL"
  timeout_seconds       = 60
  labels                = local.labels

  env = merge(local.common_env, local.billing_env)
}

module "jobs_worker_function" {
  source     = "../cloud_function"
  depends_on = [module.project_services, module.secrets]

  project_id            = var.project_id
  region                = var.region
  name                  = "jobs-worker"
  description           = "Runs one job step per Cloud Tasks delivery (OIDC from tasks-invoker only)."
  entry_point           = "run_step"
  source_bucket         = module.source_bucket.name
  service_account_email = module.service_accounts.emails["jobs-worker"]
  invokers              = [local.sa["tasks-invoker"]]
  timeout_seconds       = 540
  # 2 GiB: a vector store's ingestion step extracts the text of an upload of up to the plan's file size
  # (pypdf holds the document's objects in memory) and renders exports.
  memory        = "2Gi"
  vpc_connector = module.network.connector_id
  labels        = local.labels

  env = merge(local.common_env, local.jobs_env)
}

module "reconciler_function" {
  source     = "../cloud_function"
  depends_on = [module.project_services, module.secrets]

  project_id            = var.project_id
  region                = var.region
  name                  = "reconciler"
  description           = "Expires lapsed holds and re-drives stuck jobs (Cloud Scheduler, OIDC from scheduler-invoker only)."
  entry_point           = "reconcile"
  source_bucket         = module.source_bucket.name
  service_account_email = module.service_accounts.emails["reconciler"]
  invokers              = [local.sa["scheduler-invoker"]]
  timeout_seconds       = 120
  max_instances         = 2
  concurrency           = 1
  vpc_connector         = module.network.connector_id
  labels                = local.labels

  env = merge(local.common_env, local.jobs_env, local.billing_env)
}

module "reconciler_schedule" {
  source     = "../scheduler_job"
  depends_on = [module.project_services, module.reconciler_function]

  project_id            = var.project_id
  region                = var.region
  name                  = "reconciler"
  description           = "Calls the reconciler function every minute."
  schedule              = "* * * * *"
  target_url            = local.function_url["reconciler"]
  service_account_email = module.service_accounts.emails["scheduler-invoker"]
  attempt_deadline      = "120s"
}

module "monitoring" {
  source     = "../monitoring"
  depends_on = [module.project_services]

  project_id              = var.project_id
  env                     = var.env
  alert_email             = var.alert_email
  api_service_name        = module.api.name
  api_host                = trimprefix(module.api.uri, "https://")
  hourly_credit_threshold = var.hourly_credit_threshold
}

module "billing_budget" {
  source     = "../billing_budget"
  depends_on = [module.project_services]

  billing_account       = var.billing_account
  project_number        = data.google_project.this.number
  display_name          = "ai-backend ${var.env} monthly"
  monthly_budget_usd    = var.monthly_budget_usd
  pubsub_topic_id       = module.billing_alerts_topic.topic_id
  notification_channels = [module.monitoring.notification_channel_id]
}
