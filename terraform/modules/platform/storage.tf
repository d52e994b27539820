module "media_bucket" {
  source     = "../storage_bucket"
  depends_on = [module.project_services]

  project_id        = var.project_id
  name              = local.media_bucket
  location          = var.region
  delete_after_days = var.media_retention_days
  # The worker writes job outputs (create-if-absent); the API only reads them and signs GET URLs with its
  # own account (shared/adapters/storage.py), so it gets objectViewer, not objectAdmin: no writes or deletes.
  object_admins  = [local.sa["jobs-worker"]]
  object_viewers = [local.sa["api"]]
  labels         = local.labels
}

module "source_bucket" {
  source     = "../storage_bucket"
  depends_on = [module.project_services]

  project_id    = var.project_id
  name          = local.source_bucket
  location      = var.region
  versioning    = true
  object_admins = [local.sa["cloudbuild-deployer"]]
  labels        = local.labels
}
