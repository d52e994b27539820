variable "project_id" {
  description = "The Google Cloud project owning the service accounts."
  type        = string
}

variable "accounts" {
  description = "Service accounts by workload key: display name, the project-level roles it needs, and the account_id if the key is not a valid one (account ids are 6-30 characters)."
  type = map(object({
    display_name  = string
    project_roles = list(string)
    account_id    = optional(string)
  }))
}
