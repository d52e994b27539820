# A Cloud Functions gen2 function (a Cloud Run service underneath). Terraform creates it from a bootstrap
# source that answers 503 until Cloud Build deploys the real code (`gcloud functions deploy NAME --gen2
# --source build/functions/NAME`); later source changes are Cloud Build's and ignored here.
data "archive_file" "bootstrap" {
  type        = "zip"
  output_path = "${path.root}/.terraform/bootstrap-${var.name}.zip"

  source {
    filename = "main.py"
    content  = <<-PY
      import functions_framework


      @functions_framework.http
      def ${var.entry_point}(request):
          return ("not deployed yet", 503)
    PY
  }

  source {
    filename = "requirements.txt"
    content  = "functions-framework==3.10.2\n"
  }
}

resource "google_storage_bucket_object" "bootstrap" {
  bucket = var.source_bucket
  name   = "bootstrap/${var.name}-${data.archive_file.bootstrap.output_md5}.zip"
  source = data.archive_file.bootstrap.output_path
}

resource "google_cloudfunctions2_function" "this" {
  project     = var.project_id
  name        = var.name
  location    = var.region
  description = var.description
  labels      = var.labels

  build_config {
    runtime     = "python311"
    entry_point = var.entry_point

    source {
      storage_source {
        bucket = var.source_bucket
        object = google_storage_bucket_object.bootstrap.name
      }
    }
  }

  service_config {
    service_account_email            = var.service_account_email
    ingress_settings                 = var.ingress
    all_traffic_on_latest_revision   = true
    available_memory                 = var.memory
    available_cpu                    = var.cpu
    timeout_seconds                  = var.timeout_seconds
    min_instance_count               = var.min_instances
    max_instance_count               = var.max_instances
    max_instance_request_concurrency = var.concurrency
    environment_variables            = var.env
    vpc_connector                    = var.vpc_connector
    vpc_connector_egress_settings    = one([for c in var.vpc_connector[*] : "PRIVATE_RANGES_ONLY"])

    dynamic "secret_environment_variables" {
      for_each = var.secret_env
      content {
        key        = secret_environment_variables.key
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  lifecycle {
    ignore_changes = [
      build_config[0].source,
      build_config[0].docker_repository,
      labels,
    ]
  }
}

# Invoking a gen2 function is run.invoker on its Cloud Run service (same name as the function).
resource "google_cloud_run_v2_service_iam_member" "public" {
  count = var.public ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_v2_service_iam_member" "invokers" {
  for_each = toset(var.invokers)

  project  = var.project_id
  location = var.region
  name     = google_cloudfunctions2_function.this.name
  role     = "roles/run.invoker"
  member   = each.value
}
