variable "project_id" {
  description = "The Google Cloud project of the repository."
  type        = string
}

variable "region" {
  description = "Region of the repository (images are REGION-docker.pkg.dev/PROJECT/REPOSITORY/...)."
  type        = string
}

variable "repository_id" {
  description = "Repository id."
  type        = string
}

variable "keep_versions" {
  description = "How many most recent versions of each image the cleanup policy keeps."
  type        = number
  default     = 20
}

variable "delete_older_than" {
  description = "Age after which images are deleted, in seconds like \"2592000s\" (the most recent keep_versions stay)."
  type        = string
  default     = "2592000s"
}

variable "writers" {
  description = "IAM members that push images (the deployer)."
  type        = list(string)
  default     = []
}

variable "readers" {
  description = "IAM members that pull images."
  type        = list(string)
  default     = []
}
