output "url" {
  description = "REDIS_URL for the services: rediss://HOST:PORT/0 (TLS; the port the instance reports, 6378)."
  value       = "rediss://${google_redis_instance.this.host}:${google_redis_instance.this.port}/0"
  # A service given the URL starts only once the AUTH string it reads at startup is in Secret Manager.
  depends_on = [google_secret_manager_secret_version.auth_string]
}

output "ca_certs" {
  description = "REDIS_CA_CERT: the instance's server CA certificates (PEM), which clients verify it against."
  value       = join("\n", google_redis_instance.this.server_ca_certs[*].cert)
}
