output "url" {
  description = "The function's HTTPS URL (also the OIDC audience of its callers)."
  value       = google_cloudfunctions2_function.this.url
}

output "name" {
  description = "The function's name."
  value       = google_cloudfunctions2_function.this.name
}
