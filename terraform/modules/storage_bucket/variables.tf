variable "project_id" {
  description = "The Google Cloud project of the bucket."
  type        = string
}

variable "name" {
  description = "Globally unique bucket name."
  type        = string
}

variable "location" {
  description = "Bucket location (a region)."
  type        = string
}

variable "delete_after_days" {
  description = "Delete objects this many days after creation; null keeps them."
  type        = number
  default     = null
}

variable "versioning" {
  description = "Keep noncurrent object versions."
  type        = bool
  default     = false
}

variable "object_admins" {
  description = "IAM members with roles/storage.objectAdmin on the bucket."
  type        = list(string)
  default     = []
}

variable "object_viewers" {
  description = "IAM members with roles/storage.objectViewer on the bucket."
  type        = list(string)
  default     = []
}

variable "labels" {
  description = "Labels on the bucket."
  type        = map(string)
  default     = {}
}

variable "delete_suffixes" {
  description = "With delete_after_days: expire only objects whose names end so (empty: every object)."
  type        = list(string)
  default     = []
}

variable "prefix_admins" {
  description = "IAM members with roles/storage.objectAdmin on the objects under some prefixes only."
  type = map(object({
    member   = string
    prefixes = list(string)
  }))
  default = {}
}
