variable "project_id" {
  description = "The Google Cloud project of the job."
  type        = string
}

variable "region" {
  description = "Region of the job."
  type        = string
}

variable "name" {
  description = "Job name."
  type        = string
}

variable "description" {
  description = "What the job does."
  type        = string
}

variable "schedule" {
  description = "Cron schedule (UTC)."
  type        = string
}

variable "target_url" {
  description = "URL called (POST); also the OIDC audience."
  type        = string
}

variable "service_account_email" {
  description = "Service account whose OIDC token the job sends (must be an invoker of the target)."
  type        = string
}

variable "attempt_deadline" {
  description = "How long one call may take, e.g. \"120s\"."
  type        = string
  default     = "120s"
}

variable "retry_count" {
  description = "Retries of a failed call (the next scheduled run comes soon anyway)."
  type        = number
  default     = 0
}
