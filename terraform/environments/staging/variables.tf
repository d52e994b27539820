variable "project_id" {
  description = "The Google Cloud project of the staging environment."
  type        = string
}

variable "region" {
  description = "Region of every regional resource."
  type        = string
  default     = "us-central1"
}

variable "env" {
  description = "Environment name."
  type        = string
  default     = "staging"

  validation {
    condition     = contains(["staging"], var.env)
    error_message = "This root is the staging environment."
  }
}

variable "api_image" {
  description = "Image of the API's first revision; Cloud Build deploys REGION-docker.pkg.dev/PROJECT/ai-backend/api:TAG later."
  type        = string
  default     = "us-docker.pkg.dev/cloudrun/container/hello"
}

variable "api_min_instances" {
  description = "API instances kept warm."
  type        = number
  default     = 0
}

variable "alert_email" {
  description = "Email address that receives alerts and budget notices."
  type        = string
}

variable "billing_account" {
  description = "Billing account id (XXXXXX-XXXXXX-XXXXXX) the budget watches."
  type        = string
}

variable "monthly_budget_usd" {
  description = "Monthly spend budget in US dollars."
  type        = number
  default     = 200
}

variable "hourly_credit_threshold" {
  description = "Alert when more credits than this are settled in one hour."
  type        = number
  default     = 5000000
}

variable "log_level" {
  description = "LOG_LEVEL of the services."
  type        = string
  default     = "INFO"
}

variable "redis_tier" {
  description = "Memorystore tier: BASIC or STANDARD_HA."
  type        = string
  default     = "BASIC"
}

variable "redis_memory_gb" {
  description = "Memorystore size in GiB."
  type        = number
  default     = 1
}

variable "firestore_location" {
  description = "Firestore location (region or multi-region); fixed once the database exists."
  type        = string
  default     = "us-central1"
}

variable "media_retention_days" {
  description = "Days job outputs stay in the media bucket."
  type        = number
  default     = 7
}

variable "billing_return_url" {
  description = "BILLING_RETURN_URL: where payment pages send the user back (the web app's billing page)."
  type        = string
}

variable "sslcommerz_store_id" {
  description = "SSLCOMMERZ_STORE_ID."
  type        = string
}

variable "sslcommerz_api_base" {
  description = "SSLCOMMERZ_API_BASE."
  type        = string
  default     = "https://sandbox.sslcommerz.com"
}

variable "google_client_id" {
  description = "GOOGLE_CLIENT_ID for Google sign-in."
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
