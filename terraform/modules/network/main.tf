# A private network for Memorystore. Cloud Run reaches it with Direct VPC egress on `subnet`; the gen2
# functions reach it through a Serverless VPC Access connector on `connector_subnet` (the google provider
# 6.x has no Direct VPC egress for google_cloudfunctions2_function).
resource "google_compute_network" "this" {
  project                 = var.project_id
  name                    = var.name
  auto_create_subnetworks = false
}

resource "google_compute_subnetwork" "egress" {
  project                  = var.project_id
  name                     = "${var.name}-egress"
  region                   = var.region
  network                  = google_compute_network.this.id
  ip_cidr_range            = var.egress_cidr
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_10_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

resource "google_compute_subnetwork" "connector" {
  project                  = var.project_id
  name                     = "${var.name}-connector"
  region                   = var.region
  network                  = google_compute_network.this.id
  ip_cidr_range            = var.connector_cidr
  private_ip_google_access = true

  log_config {
    aggregation_interval = "INTERVAL_10_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

resource "google_vpc_access_connector" "this" {
  project       = var.project_id
  name          = "${var.name}-conn"
  region        = var.region
  machine_type  = "e2-micro"
  min_instances = 2
  max_instances = var.connector_max_instances

  subnet {
    name = google_compute_subnetwork.connector.name
  }
}

# Nothing inside the network accepts connections from outside it: Memorystore sits in a peered network and
# the serverless instances only make outbound connections.
resource "google_compute_firewall" "deny_ingress" {
  project   = var.project_id
  name      = "${var.name}-deny-ingress"
  network   = google_compute_network.this.id
  direction = "INGRESS"
  priority  = 65534

  deny {
    protocol = "all"
  }

  source_ranges = ["0.0.0.0/0"]

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}
