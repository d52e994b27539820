variable "project_id" {
  description = "The Google Cloud project of the topics."
  type        = string
}

variable "project_number" {
  description = "The project's number (names the Pub/Sub service agent)."
  type        = string
}

variable "name" {
  description = "Topic name; the dead-letter topic is NAME-dead-letter."
  type        = string
}

variable "subscriptions" {
  description = "Names of the pull subscriptions on the topic (each gets the dead-letter policy)."
  type        = list(string)

  validation {
    condition     = can(var.subscriptions[0])
    error_message = "Give the topic at least one subscription: a topic with none drops its messages."
  }
}

variable "publishers" {
  description = "IAM members allowed to publish to the topic."
  type        = list(string)
  default     = []
}

variable "subscribers" {
  description = "IAM members allowed to pull from the topic's subscriptions."
  type        = list(string)
  default     = []
}

variable "max_delivery_attempts" {
  description = "Deliveries before a message goes to the dead-letter topic (5 to 100)."
  type        = number
  default     = 10
}

variable "minimum_backoff" {
  description = "Shortest redelivery delay, e.g. \"10s\"."
  type        = string
  default     = "10s"
}

variable "maximum_backoff" {
  description = "Longest redelivery delay, e.g. \"600s\"."
  type        = string
  default     = "600s"
}

variable "ack_deadline_seconds" {
  description = "Seconds a subscriber has to acknowledge a message."
  type        = number
  default     = 60
}

variable "message_retention" {
  description = "How long unacknowledged messages are kept, e.g. \"604800s\"."
  type        = string
  default     = "604800s"
}

variable "labels" {
  description = "Labels on the topics and subscriptions."
  type        = map(string)
  default     = {}
}
