output "notification_channel_id" {
  description = "The email notification channel (also used by the billing budget)."
  value       = google_monitoring_notification_channel.email.id
}
