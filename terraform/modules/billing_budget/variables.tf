variable "billing_account" {
  description = "Billing account id (XXXXXX-XXXXXX-XXXXXX) paying for the project."
  type        = string
}

variable "project_number" {
  description = "Number of the project whose spend the budget covers."
  type        = string
}

variable "display_name" {
  description = "Budget name."
  type        = string
}

variable "monthly_budget_usd" {
  description = "Monthly budget in US dollars."
  type        = number
}

variable "thresholds" {
  description = "Fractions of the budget (actual spend) that notify, e.g. [0.5, 0.9, 1.0]."
  type        = list(number)
  default     = [0.5, 0.9, 1.0]
}

variable "pubsub_topic_id" {
  description = "Topic (projects/P/topics/T) that receives every budget update."
  type        = string
}

variable "notification_channels" {
  description = "Monitoring notification channels emailed at the thresholds."
  type        = list(string)
  default     = []
}
