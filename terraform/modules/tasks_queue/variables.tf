variable "project_id" {
  description = "The Google Cloud project of the queue."
  type        = string
}

variable "location" {
  description = "Region of the queue."
  type        = string
}

variable "name" {
  description = "Queue name."
  type        = string
}

variable "max_attempts" {
  description = "Attempts per task, the first included (matches the code's JOBS_MAX_ATTEMPTS)."
  type        = number
}

variable "min_backoff" {
  description = "Shortest delay between attempts, e.g. \"5s\"."
  type        = string
  default     = "5s"
}

variable "max_backoff" {
  description = "Longest delay between attempts, e.g. \"300s\"."
  type        = string
  default     = "300s"
}

variable "max_doublings" {
  description = "Times the backoff doubles before growing linearly."
  type        = number
  default     = 4
}

variable "max_retry_duration" {
  description = "Give up retrying a task this long after its first attempt, e.g. \"3600s\"."
  type        = string
  default     = "3600s"
}

variable "max_dispatches_per_second" {
  description = "Rate limit of task dispatches."
  type        = number
  default     = 20
}

variable "max_concurrent_dispatches" {
  description = "Tasks running at once at most."
  type        = number
  default     = 50
}

variable "log_sampling_ratio" {
  description = "Fraction of task operations logged (0 to 1)."
  type        = number
  default     = 1
}

variable "enqueuers" {
  description = "IAM members allowed to create tasks in the queue."
  type        = list(string)
  default     = []
}
