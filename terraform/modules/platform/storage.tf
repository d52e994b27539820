module "media_bucket" {
  source     = "../storage_bucket"
  depends_on = [module.project_services]

  project_id        = var.project_id
  name              = local.media_bucket
  location          = var.region
  delete_after_days = var.media_retention_days
  object_admins     = [local.sa["api"], local.sa["jobs-worker"]]
  labels            = local.labels
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
