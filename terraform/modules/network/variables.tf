variable "project_id" {
  description = "The Google Cloud project of the network."
  type        = string
}

variable "region" {
  description = "Region of the subnets and the VPC Access connector."
  type        = string
}

variable "name" {
  description = "Name of the VPC network; subnets and the connector are named after it."
  type        = string
}

variable "egress_cidr" {
  description = "CIDR range of the subnet Cloud Run uses for Direct VPC egress (at least a /26)."
  type        = string
  default     = "10.10.0.0/24"
}

variable "connector_cidr" {
  description = "CIDR range (/28) of the subnet dedicated to the Serverless VPC Access connector."
  type        = string
  default     = "10.10.1.0/28"
}

variable "connector_max_instances" {
  description = "Maximum number of VPC Access connector instances (3 to 10)."
  type        = number
  default     = 3
}
