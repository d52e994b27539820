variable "project_id" {
  description = "The Google Cloud project of the service."
  type        = string
}

variable "region" {
  description = "Region of the service."
  type        = string
}

variable "name" {
  description = "Service name."
  type        = string
}

variable "image" {
  description = "Container image for the first revision (later images are deployed by Cloud Build)."
  type        = string
}

variable "service_account_email" {
  description = "The service's own runtime service account."
  type        = string
}

variable "port" {
  description = "Port the container listens on."
  type        = number
  default     = 8080
}

variable "health_path" {
  description = "HTTP path of the startup and liveness probes."
  type        = string
  default     = "/healthz"
}

variable "ingress" {
  description = "INGRESS_TRAFFIC_ALL, INGRESS_TRAFFIC_INTERNAL_ONLY or INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER."
  type        = string
  default     = "INGRESS_TRAFFIC_ALL"
}

variable "public" {
  description = "Let anyone invoke the service (allUsers run.invoker); only for public entry points."
  type        = bool
  default     = false
}

variable "invokers" {
  description = "IAM members allowed to invoke the service (OIDC-authenticated callers)."
  type        = list(string)
  default     = []
}

variable "request_timeout_seconds" {
  description = "Request timeout; streamed responses need up to 3600."
  type        = number
  default     = 3600
}

variable "concurrency" {
  description = "Concurrent requests per instance."
  type        = number
  default     = 80
}

variable "min_instances" {
  description = "Instances kept warm."
  type        = number
  default     = 0
}

variable "max_instances" {
  description = "Upper bound on instances."
  type        = number
  default     = 20
}

variable "cpu_idle" {
  description = "Throttle the CPU outside requests (billed per request); false keeps it allocated for background work."
  type        = bool
  default     = true
}

variable "cpu" {
  description = "CPU limit per instance, e.g. \"1\"."
  type        = string
  default     = "1"
}

variable "memory" {
  description = "Memory limit per instance, e.g. \"1Gi\"."
  type        = string
  default     = "1Gi"
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

variable "network_name" {
  description = "VPC network for Direct VPC egress (private ranges only)."
  type        = string
}

variable "subnet_name" {
  description = "Subnet for Direct VPC egress."
  type        = string
}

variable "deletion_protection" {
  description = "Refuse to destroy the service from Terraform."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels on the service."
  type        = map(string)
  default     = {}
}
