variable "project_id" {
  description = "The Google Cloud project to enable the APIs in."
  type        = string
}

variable "services" {
  description = "API service names to enable, e.g. run.googleapis.com."
  type        = list(string)
}
