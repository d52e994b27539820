output "topic_id" {
  description = "The topic's id (projects/PROJECT/topics/NAME)."
  value       = google_pubsub_topic.this.id
}

output "topic_name" {
  description = "The topic's name."
  value       = google_pubsub_topic.this.name
}

output "dead_letter_topic_name" {
  description = "The dead-letter topic's name."
  value       = google_pubsub_topic.dead_letter.name
}
