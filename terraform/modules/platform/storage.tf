module "media_bucket" {
  source     = "../storage_bucket"
  depends_on = [module.project_services]

  project_id        = var.project_id
  name              = local.media_bucket
  location          = var.region
  delete_after_days = var.media_retention_days
  # The retention is for job outputs (and the ingestion's scratch JSON): uploaded files (`…/files/file-…`)
  # and uploads have no ending and follow their plan's retention, swept by the reconciler.
  delete_suffixes = [".png", ".mp4", ".md", ".pdf", ".docx", ".zip", ".json"]
  # The worker writes job outputs (create-if-absent). The API reads them and signs GET URLs with its own
  # account (shared/adapters/storage.py); it writes and deletes only users' and workspaces' objects (files,
  # uploads, an account's deletion) and vector stores' saved keyword indexes (`vector_stores/{vs}/keyword/`,
  # deleted when a store's chunks change), as does the reconciler (expired files, uploads and stores):
  # objectAdmin under those prefixes, never over the whole bucket. The indexes end in .json.gz: the
  # retention above does not apply to them.
  object_admins  = [local.sa["jobs-worker"]]
  object_viewers = [local.sa["api"], local.sa["reconciler"]]
  prefix_admins = {
    api        = { member = local.sa["api"], prefixes = ["users/", "workspaces/", "vector_stores/"] }
    reconciler = { member = local.sa["reconciler"], prefixes = ["users/", "workspaces/", "vector_stores/"] }
  }
  labels = local.labels
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
