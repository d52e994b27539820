variable "project_id" {
  description = "The Google Cloud project of the secrets."
  type        = string
}

variable "secrets" {
  description = "Secret ids mapped to the IAM members allowed to read that secret."
  type        = map(list(string))
}

variable "labels" {
  description = "Labels on every secret."
  type        = map(string)
  default     = {}
}
