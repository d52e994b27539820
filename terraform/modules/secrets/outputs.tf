output "secret_ids" {
  description = "The secret ids (for env secret references)."
  value       = { for id, s in google_secret_manager_secret.this : id => s.secret_id }
}
