output "database_name" {
  description = "The database's name, \"(default)\"."
  value       = google_firestore_database.this.name
}
