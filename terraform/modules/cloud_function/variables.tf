variable "project_id" {
  description = "The Google Cloud project of the function."
  type        = string
}

variable "region" {
  description = "Region of the function."
  type        = string
}

variable "name" {
  description = "Function name (also the name of its Cloud Run service)."
  type        = string
}

variable "description" {
  description = "What the function does."
  type        = string
}

variable "entry_point" {
  description = "Python function the framework calls."
  type        = string
}

variable "source_bucket" {
  description = "Bucket holding the bootstrap source object (PROJECT-ENV-function-source)."
  type        = string
}

variable "service_account_email" {
  description = "The function's own runtime service account."
  type        = string
}

variable "ingress" {
  description = "ALLOW_ALL for public entry points; ALLOW_INTERNAL_ONLY admits the project's Cloud Tasks and Cloud Scheduler."
  type        = string
  default     = "ALLOW_INTERNAL_ONLY"
}

variable "public" {
  description = "Let anyone invoke the function (allUsers run.invoker); only for public entry points."
  type        = bool
  default     = false
}

variable "invokers" {
  description = "IAM members allowed to invoke the function (OIDC-authenticated callers)."
  type        = list(string)
  default     = []
}

variable "memory" {
  description = "Memory per instance, e.g. \"512Mi\"."
  type        = string
  default     = "512Mi"
}

variable "cpu" {
  description = "CPUs per instance, e.g. \"1\"."
  type        = string
  default     = "1"
}

variable "timeout_seconds" {
  description = "Request timeout in seconds."
  type        = number
  default     = 540
}

variable "min_instances" {
  description = "Instances kept warm."
  type        = number
  default     = 0
}

variable "max_instances" {
  description = "Upper bound on instances."
  type        = number
  default     = 10
}

variable "concurrency" {
  description = "Concurrent requests per instance."
  type        = number
  default     = 8
}

variable "env" {
  description = "Plain environment variables (no secret values: use secret_env)."
  type        = map(string)
  default     = {}
}

variable "secret_env" {
  description = "Environment variables read from Secret Manager: env name => secret id (latest version)."
  type        = map(string)
  default     = {}
}

variable "vpc_connector" {
  description = "Serverless VPC Access connector id for private-range egress (Memorystore); null for none."
  type        = string
  default     = null
}

variable "labels" {
  description = "Labels on the function."
  type        = map(string)
  default     = {}
}
