terraform {
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.40.0, < 7.0.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.7.0, < 3.0.0"
    }
  }

  # The state bucket is made by the runbook's bootstrap: terraform init -backend-config="bucket=NAME".
  backend "gcs" {
    prefix = "ai-backend/prod"
  }
}
