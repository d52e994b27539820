output "uri" {
  description = "The service's URL."
  value       = google_cloud_run_v2_service.this.uri
}

output "name" {
  description = "The service's name."
  value       = google_cloud_run_v2_service.this.name
}
