variable "project_id" {
  description = "The Google Cloud project of the environment."
  type        = string
}

variable "region" {
  description = "Region of every regional resource."
  type        = string
}

variable "env" {
  description = "Environment name: staging or prod."
  type        = string

  validation {
    condition     = contains(["staging", "prod"], var.env)
    error_message = "env must be staging or prod."
  }
}

variable "api_image" {
  description = "Container image of the API's first revision (Cloud Build deploys later ones)."
  type        = string
}

variable "api_min_instances" {
  description = "API instances kept warm."
  type        = number
}

variable "api_max_instances" {
  description = "Upper bound on API instances."
  type        = number
}

variable "alert_email" {
  description = "Email address that receives the monitoring alerts and budget notices."
  type        = string
}

variable "billing_account" {
  description = "Billing account id the budget watches."
  type        = string
}

variable "monthly_budget_usd" {
  description = "Monthly spend budget in US dollars."
  type        = number
}

variable "hourly_credit_threshold" {
  description = "Alert when more credits than this are settled in one hour."
  type        = number
}

variable "log_level" {
  description = "LOG_LEVEL of the services."
  type        = string
}

variable "redis_tier" {
  description = "Memorystore tier: BASIC or STANDARD_HA."
  type        = string
}

variable "redis_memory_gb" {
  description = "Memorystore size in GiB."
  type        = number
}

variable "firestore_location" {
  description = "Firestore location (region or multi-region)."
  type        = string
}

variable "media_retention_days" {
  description = "Days job outputs stay in the media bucket."
  type        = number
}

variable "jobs_max_dispatches_per_second" {
  description = "Rate limit of the jobs queue."
  type        = number
}

variable "jobs_max_concurrent_dispatches" {
  description = "Concurrent job steps at most."
  type        = number
}

variable "billing_return_url" {
  description = "BILLING_RETURN_URL: where the payment pages send the user back."
  type        = string
}

variable "sslcommerz_store_id" {
  description = "SSLCOMMERZ_STORE_ID (not secret; the store password is in Secret Manager)."
  type        = string
}

variable "sslcommerz_api_base" {
  description = "SSLCOMMERZ_API_BASE: sandbox or live SSLCommerz endpoint."
  type        = string
}

variable "google_client_id" {
  description = "GOOGLE_CLIENT_ID: the OAuth client id Google sign-in tokens are issued for."
  type        = string
}

variable "public_api_url" {
  description = "PUBLIC_API_URL: the API's public https address; the links in sign-up emails point there."
  type        = string
}

variable "smtp_host" {
  description = "SMTP_HOST: the mail relay that sends sign-up emails (the password is the smtp-password secret)."
  type        = string
}

variable "smtp_port" {
  description = "SMTP_PORT: 587 with STARTTLS, 465 with implicit TLS."
  type        = number
  default     = 587
}

variable "smtp_security" {
  description = "SMTP_SECURITY: starttls or ssl."
  type        = string
  default     = "starttls"
}

variable "smtp_user" {
  description = "SMTP_USER: the relay's user name."
  type        = string
}

variable "mail_from" {
  description = "MAIL_FROM: the sender of sign-up emails, e.g. \"Example <no-reply@example.com>\"."
  type        = string
}

variable "cors_origins" {
  description = "CORS_ORIGINS: the browser origins (https://app.example.com) allowed to call the API; none by default."
  type        = list(string)
  default     = []
}

variable "knowledge_vector_dimensions" {
  description = "The vector size of the vector stores' embedding model (KNOWLEDGE_EMBEDDING_MODEL; all-MiniLM-L6-v2 makes 384)."
  type        = number
  default     = 384
}
