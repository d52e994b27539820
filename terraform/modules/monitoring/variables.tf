variable "project_id" {
  description = "The Google Cloud project monitored."
  type        = string
}

variable "env" {
  description = "Environment name shown in the alert titles."
  type        = string
}

variable "alert_email" {
  description = "Email address that receives the alerts."
  type        = string
}

variable "api_service_name" {
  description = "Cloud Run service name of the chat API."
  type        = string
}

variable "api_host" {
  description = "Host name of the chat API (no scheme), for the uptime check."
  type        = string
}

variable "health_path" {
  description = "Path of the API's health endpoint."
  type        = string
  default     = "/healthz"
}

variable "error_ratio_threshold" {
  description = "Alert when 5xx responses exceed this fraction of all responses (0 to 1)."
  type        = number
  default     = 0.05
}

variable "latency_p95_threshold_ms" {
  description = "Alert when p95 request latency exceeds this many milliseconds (streams count whole)."
  type        = number
  default     = 60000
}

variable "hourly_credit_threshold" {
  description = "Alert when more credits than this are settled in one hour."
  type        = number
}

variable "ttft_p95_alert_s" {
  description = "Alert when the 95th percentile of time to first token stays above this many seconds for 10 minutes."
  type        = number
  default     = 8
}
