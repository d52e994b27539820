output "url" {
  description = "REDIS_URL for the services: redis://HOST:PORT/0."
  value       = "redis://${google_redis_instance.this.host}:${google_redis_instance.this.port}/0"
}
