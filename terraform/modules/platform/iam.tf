# One service account per service and function, plus the two callers (Cloud Tasks, Cloud Scheduler) and
# the Cloud Build deployer. Project roles are the minimum each needs; everything else is granted on the
# single resource (secret, bucket, topic, queue, service) in the module that owns it.
module "service_accounts" {
  source     = "../service_accounts"
  depends_on = [module.project_services]

  project_id = var.project_id
  accounts = {
    "api" = {
      # "api" is too short for an account id (6 to 30 characters).
      account_id    = "api-service"
      display_name  = "Chat API (Cloud Run)"
      project_roles = ["roles/datastore.user", "roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/cloudtrace.agent"]
    }
    "payments" = {
      display_name  = "Payments webhook function"
      project_roles = ["roles/datastore.user", "roles/logging.logWriter", "roles/cloudtrace.agent"]
    }
    "jobs-worker" = {
      display_name  = "Jobs worker function"
      project_roles = ["roles/datastore.user", "roles/logging.logWriter", "roles/monitoring.metricWriter", "roles/cloudtrace.agent"]
    }
    "reconciler" = {
      display_name  = "Reconciler function"
      project_roles = ["roles/datastore.user", "roles/logging.logWriter", "roles/cloudtrace.agent"]
    }
    "tasks-invoker" = {
      display_name  = "Cloud Tasks OIDC caller of the jobs worker"
      project_roles = []
    }
    "scheduler-invoker" = {
      display_name  = "Cloud Scheduler OIDC caller of the reconciler"
      project_roles = []
    }
    "cloudbuild-deployer" = {
      display_name  = "Cloud Build deployer"
      project_roles = ["roles/run.admin", "roles/cloudfunctions.developer", "roles/logging.logWriter"]
    }
  }
}

locals {
  # Who may mint tasks' OIDC tokens as tasks-invoker (they create the tasks).
  task_creators = ["api", "jobs-worker", "reconciler"]
  # Who signs URLs with its own key (signBlob on itself).
  url_signers = ["api", "jobs-worker"]
  # What the deployer deploys as.
  runtime_accounts = ["api", "payments", "jobs-worker", "reconciler"]
}

resource "google_service_account_iam_member" "act_as_tasks_invoker" {
  for_each = toset(local.task_creators)

  service_account_id = module.service_accounts.ids["tasks-invoker"]
  role               = "roles/iam.serviceAccountUser"
  member             = local.sa[each.value]
}

resource "google_service_account_iam_member" "sign_own_urls" {
  for_each = toset(local.url_signers)

  service_account_id = module.service_accounts.ids[each.value]
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.sa[each.value]
}

resource "google_service_account_iam_member" "deployer_act_as" {
  for_each = toset(local.runtime_accounts)

  service_account_id = module.service_accounts.ids[each.value]
  role               = "roles/iam.serviceAccountUser"
  member             = local.sa["cloudbuild-deployer"]
}

# Who reads which secret, from what the code reads: the Stripe API key only where checkout and the customer
# portal call Stripe (the API: shared/purchases/service.py); the payments function verifies webhooks with
# stripe-webhook-secrets and never calls Stripe's API. The Redis AUTH string: the three workloads that get
# jobs_env (REDIS_URL); payments never connects to Redis.
module "secrets" {
  source     = "../secrets"
  depends_on = [module.project_services]

  project_id = var.project_id
  labels     = local.labels
  secrets = merge(
    { for id in local.provider_key_secrets : id => [local.sa["api"], local.sa["jobs-worker"]] },
    {
      "jwt-secret"                = [local.sa["api"]]
      "smtp-password"             = [local.sa["api"]]
      "workspace-invite-secret"   = [local.sa["api"]]
      "stripe-secret-key"         = [local.sa["api"]]
      "stripe-webhook-secrets"    = [local.sa["payments"]]
      "sslcommerz-store-password" = [local.sa["api"], local.sa["payments"], local.sa["reconciler"]]
      # Memorystore's AUTH string (its value comes from the redis module): the services that use Redis.
      "redis-auth-string" = [local.sa["api"], local.sa["jobs-worker"], local.sa["reconciler"]]
    },
  )
}
