output "network_id" {
  description = "The VPC network's id (Memorystore's authorized network)."
  value       = google_compute_network.this.id
}

output "network_name" {
  description = "The VPC network's name (Cloud Run Direct VPC egress)."
  value       = google_compute_network.this.name
}

output "egress_subnet_name" {
  description = "The subnet Cloud Run's Direct VPC egress attaches to."
  value       = google_compute_subnetwork.egress.name
}

output "connector_id" {
  description = "The Serverless VPC Access connector's id, for the gen2 functions."
  value       = google_vpc_access_connector.this.id
}
