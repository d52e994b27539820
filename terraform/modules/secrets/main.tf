# Secrets are created empty: their values are added out of band (`gcloud secrets versions add`), so no
# secret value ever sits in the Terraform configuration or state. Access is granted per secret.
locals {
  grants = merge([
    for id, members in var.secrets : { for m in members : "${id}/${m}" => { id = id, member = m } }
  ]...)
}

resource "google_secret_manager_secret" "this" {
  for_each = var.secrets

  project   = var.project_id
  secret_id = each.key
  labels    = var.labels

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_iam_member" "accessors" {
  for_each = local.grants

  project   = var.project_id
  secret_id = google_secret_manager_secret.this[each.value.id].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value.member
}
