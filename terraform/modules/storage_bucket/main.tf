# A private bucket: uniform bucket-level access, public access prevention enforced, optional object
# expiry, access only through the IAM members given.
resource "google_storage_bucket" "this" {
  project                     = var.project_id
  name                        = var.name
  location                    = var.location
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = var.labels

  versioning {
    enabled = var.versioning
  }

  dynamic "lifecycle_rule" {
    for_each = var.delete_after_days[*]
    content {
      condition {
        age = lifecycle_rule.value
        # Only objects with these endings (job outputs), when given: the rest follow their own retention.
        matches_suffix = var.delete_suffixes
      }
      action {
        type = "Delete"
      }
    }
  }
}

resource "google_storage_bucket_iam_member" "object_admins" {
  for_each = toset(var.object_admins)

  bucket = google_storage_bucket.this.name
  role   = "roles/storage.objectAdmin"
  member = each.value
}

resource "google_storage_bucket_iam_member" "object_viewers" {
  for_each = toset(var.object_viewers)

  bucket = google_storage_bucket.this.name
  role   = "roles/storage.objectViewer"
  member = each.value
}

# objectAdmin limited to objects under the given prefixes (an IAM condition on the object's name): a
# service that writes and deletes its users' own objects without rights over the rest of the bucket.
resource "google_storage_bucket_iam_member" "prefix_admins" {
  for_each = var.prefix_admins

  bucket = google_storage_bucket.this.name
  role   = "roles/storage.objectAdmin"
  member = each.value.member

  condition {
    title       = "prefixes-${each.key}"
    description = "Objects under ${join(", ", each.value.prefixes)}"
    expression = join(" || ", [
      for prefix in each.value.prefixes :
      "resource.name.startsWith(\"projects/_/buckets/${var.name}/objects/${prefix}\")"
    ])
  }
}
