variable "project_id" {
  description = "The Google Cloud project of the database."
  type        = string
}

variable "location_id" {
  description = "Firestore location (a region such as us-central1, or a multi-region such as nam5)."
  type        = string
}

variable "point_in_time_recovery" {
  description = "Keep 7 days of point-in-time recovery versions."
  type        = bool
  default     = true
}

variable "composite_indexes" {
  description = "Composite indexes by a stable key: collection group, query scope and ordered fields."
  type = map(object({
    collection  = string
    query_scope = string
    fields = list(object({
      field_path = string
      order      = string
    }))
  }))
}

variable "collection_group_fields" {
  description = "Fields queried alone across a collection group (get a COLLECTION_GROUP single-field index)."
  type = map(object({
    collection = string
    field      = string
  }))
  default = {}
}

variable "ttl_fields" {
  description = "TTL policies by key: documents of `collection` are deleted after the time in `field`."
  type = map(object({
    collection = string
    field      = string
  }))
}

variable "vector_indexes" {
  description = "Vector indexes by key: find_nearest on `vector_field` of `collection`, prefiltered by equality on `prefilter_field`, for vectors of `dimension` numbers."
  type = map(object({
    collection      = string
    prefilter_field = string
    vector_field    = string
    dimension       = number
  }))
  default = {}
}
