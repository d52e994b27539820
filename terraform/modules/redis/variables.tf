variable "project_id" {
  description = "The Google Cloud project of the instance."
  type        = string
}

variable "region" {
  description = "Region of the instance (the services' region)."
  type        = string
}

variable "name" {
  description = "Instance name."
  type        = string
}

variable "tier" {
  description = "BASIC (one node) or STANDARD_HA (replicated, automatic failover)."
  type        = string

  validation {
    condition     = contains(["BASIC", "STANDARD_HA"], var.tier)
    error_message = "tier must be BASIC or STANDARD_HA."
  }
}

variable "memory_size_gb" {
  description = "Memory size in GiB."
  type        = number
  default     = 1
}

variable "redis_version" {
  description = "Redis version, e.g. REDIS_7_2."
  type        = string
  default     = "REDIS_7_2"
}

variable "network_id" {
  description = "Id of the VPC network the instance is reachable from."
  type        = string
}

variable "labels" {
  description = "Labels on the instance."
  type        = map(string)
  default     = {}
}

variable "auth_secret_id" {
  description = "Id of the (existing, empty) Secret Manager secret that receives the instance's AUTH string."
  type        = string
}
