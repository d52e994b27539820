# Memorystore for Redis on the private network (direct peering). The services reach it through Direct VPC
# egress (Cloud Run) or the VPC Access connector (functions) as rediss://HOST:PORT/0: AUTH is on, and traffic
# is TLS, the server authenticated by the instance's own CA (outputs `url` and `ca_certs`). Switching TLS on
# replaces an existing instance (its data goes: caches, limits and breaker state, which rebuild).
resource "google_redis_instance" "this" {
  project            = var.project_id
  name               = var.name
  region             = var.region
  tier               = var.tier
  memory_size_gb     = var.memory_size_gb
  redis_version      = var.redis_version
  authorized_network = var.network_id
  connect_mode       = "DIRECT_PEERING"
  labels             = var.labels

  auth_enabled            = true
  transit_encryption_mode = "SERVER_AUTHENTICATION"

  maintenance_policy {
    weekly_maintenance_window {
      day = "SUNDAY"
      start_time {
        hours   = 3
        minutes = 0
        seconds = 0
        nanos   = 0
      }
    }
  }
}

# The AUTH string as the value of the Secret Manager secret `auth_secret_id` (made empty, and granted only to
# the services that use Redis, by the secrets module); the services read it at startup
# (REDIS_PASSWORD_SECRET). The string is in the Terraform state anyway, as an attribute of the instance.
resource "google_secret_manager_secret_version" "auth_string" {
  secret      = "projects/${var.project_id}/secrets/${var.auth_secret_id}"
  secret_data = google_redis_instance.this.auth_string
}
