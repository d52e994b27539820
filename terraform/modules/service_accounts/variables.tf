variable "project_id" {
  description = "The Google Cloud project owning the service accounts."
  type        = string
}

variable "accounts" {
  description = "Service accounts by account_id: display name and the project-level roles it needs."
  type = map(object({
    display_name  = string
    project_roles = list(string)
  }))
}
