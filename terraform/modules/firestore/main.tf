# The "(default)" Firestore database in native mode, the composite indexes the code's queries need,
# single-field overrides for collection-group queries, and TTL policies on deletion-time fields.
resource "google_firestore_database" "this" {
  project                           = var.project_id
  name                              = "(default)"
  location_id                       = var.location_id
  type                              = "FIRESTORE_NATIVE"
  concurrency_mode                  = "PESSIMISTIC"
  point_in_time_recovery_enablement = var.point_in_time_recovery ? "POINT_IN_TIME_RECOVERY_ENABLED" : "POINT_IN_TIME_RECOVERY_DISABLED"
  delete_protection_state           = "DELETE_PROTECTION_ENABLED"
  deletion_policy                   = "ABANDON"
}

resource "google_firestore_index" "this" {
  for_each = var.composite_indexes

  project     = var.project_id
  database    = google_firestore_database.this.name
  collection  = each.value.collection
  query_scope = each.value.query_scope

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value.field_path
      order      = fields.value.order
    }
  }
}

# Vector search (find_nearest) with an equality prefilter: the prefilter field, then the vector field.
resource "google_firestore_index" "vectors" {
  for_each = var.vector_indexes

  project     = var.project_id
  database    = google_firestore_database.this.name
  collection  = each.value.collection
  query_scope = "COLLECTION"

  fields {
    field_path = each.value.prefilter_field
    order      = "ASCENDING"
  }
  fields {
    field_path = each.value.vector_field
    vector_config {
      dimension = each.value.dimension
      flat {}
    }
  }
}

# Collection-group queries on one field need a COLLECTION_GROUP single-field index.
resource "google_firestore_field" "group_indexes" {
  for_each = var.collection_group_fields

  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = each.value.collection
  field      = each.value.field

  index_config {
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION"
    }
    indexes {
      order       = "ASCENDING"
      query_scope = "COLLECTION_GROUP"
    }
  }
}

# TTL: Firestore deletes a document some time after the timestamp in this field has passed. The field is
# not indexed (nothing queries it, and monotonically rising indexed timestamps make hotspots).
resource "google_firestore_field" "ttl" {
  for_each = var.ttl_fields

  project    = var.project_id
  database   = google_firestore_database.this.name
  collection = each.value.collection
  field      = each.value.field

  index_config {}

  ttl_config {}
}
