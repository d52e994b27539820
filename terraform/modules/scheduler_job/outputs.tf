output "name" {
  description = "The job's name."
  value       = google_cloud_scheduler_job.this.name
}
