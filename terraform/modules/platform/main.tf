# The whole ai-backend platform for one environment: each concern is a module; this file wires them
# together (names, service accounts, who may call or read what).
data "google_project" "this" {
  project_id = var.project_id
}

locals {
  labels = { app = "ai-backend", env = var.env }

  media_bucket  = "${var.project_id}-${var.env}-media"
  source_bucket = "${var.project_id}-${var.env}-function-source"

  # Gen2 function URLs are fixed by region, project and name; computing them avoids a dependency cycle
  # (the worker's own OIDC audience is its URL).
  function_url = {
    for name in ["payments", "jobs-worker", "reconciler"] :
    name => "https://${var.region}-${var.project_id}.cloudfunctions.net/${name}"
  }

  sa = module.service_accounts.members

  provider_key_secrets = [
    "openai-api-key",
    "anthropic-api-key",
    "gemini-api-key",
    "xai-api-key",
    "deepseek-api-key",
    "openrouter-api-key",
    "tavily-api-key",
  ]
}

module "project_services" {
  source = "../project_services"

  project_id = var.project_id
  services = [
    "artifactregistry.googleapis.com",
    "billingbudgets.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudscheduler.googleapis.com",
    "cloudtasks.googleapis.com",
    "compute.googleapis.com",
    "eventarc.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "redis.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "vpcaccess.googleapis.com",
  ]
}

module "network" {
  source     = "../network"
  depends_on = [module.project_services]

  project_id = var.project_id
  region     = var.region
  name       = "ai-backend-${var.env}"
}

module "redis" {
  source     = "../redis"
  depends_on = [module.project_services]

  project_id     = var.project_id
  region         = var.region
  name           = "ai-backend-${var.env}"
  tier           = var.redis_tier
  memory_size_gb = var.redis_memory_gb
  network_id     = module.network.network_id
  auth_secret_id = module.secrets.secret_ids["redis-auth-string"]
  labels         = local.labels
}

module "artifact_registry" {
  source     = "../artifact_registry"
  depends_on = [module.project_services]

  project_id    = var.project_id
  region        = var.region
  repository_id = "ai-backend"
  writers       = [local.sa["cloudbuild-deployer"]]
}

module "firestore" {
  source     = "../firestore"
  depends_on = [module.project_services]

  project_id  = var.project_id
  location_id = var.firestore_location

  # One per query in shared/ and functions/ that needs more than single-field indexes.
  composite_indexes = {
    # The audit trail (shared/audit/trail.py): a workspace's or an account's entries, newest first,
    # optionally of one action and/or one actor.
    audit_workspace_at = {
      collection  = "audit"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "workspace_id", order = "ASCENDING" },
        { field_path = "at", order = "DESCENDING" },
        { field_path = "id", order = "DESCENDING" },
      ]
    }
    audit_workspace_action_at = {
      collection  = "audit"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "workspace_id", order = "ASCENDING" },
        { field_path = "action", order = "ASCENDING" },
        { field_path = "at", order = "DESCENDING" },
        { field_path = "id", order = "DESCENDING" },
      ]
    }
    audit_workspace_actor_at = {
      collection  = "audit"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "workspace_id", order = "ASCENDING" },
        { field_path = "actor", order = "ASCENDING" },
        { field_path = "at", order = "DESCENDING" },
        { field_path = "id", order = "DESCENDING" },
      ]
    }
    audit_workspace_action_actor_at = {
      collection  = "audit"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "workspace_id", order = "ASCENDING" },
        { field_path = "action", order = "ASCENDING" },
        { field_path = "actor", order = "ASCENDING" },
        { field_path = "at", order = "DESCENDING" },
        { field_path = "id", order = "DESCENDING" },
      ]
    }
    audit_account_at = {
      collection  = "audit"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "account", order = "ASCENDING" },
        { field_path = "at", order = "DESCENDING" },
        { field_path = "id", order = "DESCENDING" },
      ]
    }
    audit_account_action_at = {
      collection  = "audit"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "account", order = "ASCENDING" },
        { field_path = "action", order = "ASCENDING" },
        { field_path = "at", order = "DESCENDING" },
        { field_path = "id", order = "DESCENDING" },
      ]
    }
    audit_account_actor_at = {
      collection  = "audit"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "account", order = "ASCENDING" },
        { field_path = "actor", order = "ASCENDING" },
        { field_path = "at", order = "DESCENDING" },
        { field_path = "id", order = "DESCENDING" },
      ]
    }
    audit_account_action_actor_at = {
      collection  = "audit"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "account", order = "ASCENDING" },
        { field_path = "action", order = "ASCENDING" },
        { field_path = "actor", order = "ASCENDING" },
        { field_path = "at", order = "DESCENDING" },
        { field_path = "id", order = "DESCENDING" },
      ]
    }
    holds_state_expires = {
      collection  = "holds"
      query_scope = "COLLECTION_GROUP"
      fields = [
        { field_path = "state", order = "ASCENDING" },
        { field_path = "expires_at", order = "ASCENDING" },
      ]
    }
    # Files (shared/files/service.py): an owner's files, optionally of one purpose, by creation time.
    files_owner_created_asc = {
      collection  = "files"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "owner", order = "ASCENDING" },
        { field_path = "created_at", order = "ASCENDING" },
      ]
    }
    files_owner_purpose_created_asc = {
      collection  = "files"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "owner", order = "ASCENDING" },
        { field_path = "purpose", order = "ASCENDING" },
        { field_path = "created_at", order = "ASCENDING" },
      ]
    }
    files_owner_created_desc = {
      collection  = "files"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "owner", order = "ASCENDING" },
        { field_path = "created_at", order = "DESCENDING" },
      ]
    }
    files_owner_purpose_created_desc = {
      collection  = "files"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "owner", order = "ASCENDING" },
        { field_path = "purpose", order = "ASCENDING" },
        { field_path = "created_at", order = "DESCENDING" },
      ]
    }
    # Assistants (shared/assistants/service.py): a user's or a workspace's, by creation time.
    assistants_user_created_asc = {
      collection  = "assistants"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "user_id", order = "ASCENDING" },
        { field_path = "created_us", order = "ASCENDING" },
      ]
    }
    assistants_user_created_desc = {
      collection  = "assistants"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "user_id", order = "ASCENDING" },
        { field_path = "created_us", order = "DESCENDING" },
      ]
    }
    assistants_workspace_created_asc = {
      collection  = "assistants"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "workspace_id", order = "ASCENDING" },
        { field_path = "created_us", order = "ASCENDING" },
      ]
    }
    assistants_workspace_created_desc = {
      collection  = "assistants"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "workspace_id", order = "ASCENDING" },
        { field_path = "created_us", order = "DESCENDING" },
      ]
    }
    # Vector stores (shared/knowledge/service.py): an owner's stores by creation time.
    vector_stores_owner_created_asc = {
      collection  = "vector_stores"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "owner", order = "ASCENDING" },
        { field_path = "created_at", order = "ASCENDING" },
      ]
    }
    vector_stores_owner_created_desc = {
      collection  = "vector_stores"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "owner", order = "ASCENDING" },
        { field_path = "created_at", order = "DESCENDING" },
      ]
    }
    jobs_user_created = {
      collection  = "jobs"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "user_id", order = "ASCENDING" },
        { field_path = "created_at", order = "DESCENDING" },
      ]
    }
    jobs_state_updated = {
      collection  = "jobs"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "state", order = "ASCENDING" },
        { field_path = "updated_at", order = "ASCENDING" },
      ]
    }
    jobs_closing_updated = {
      collection  = "jobs"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "closing", order = "ASCENDING" },
        { field_path = "updated_at", order = "ASCENDING" },
      ]
    }
    jobs_state_deadline = {
      collection  = "jobs"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "state", order = "ASCENDING" },
        { field_path = "deadline", order = "ASCENDING" },
      ]
    }
    usage_user_created = {
      collection  = "usage"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "user_id", order = "ASCENDING" },
        { field_path = "created_at", order = "ASCENDING" },
      ]
    }
    usage_wallet_created = {
      collection  = "usage"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "wallet_id", order = "ASCENDING" },
        { field_path = "created_at", order = "ASCENDING" },
      ]
    }
    usage_user_wallet_created = {
      collection  = "usage"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "user_id", order = "ASCENDING" },
        { field_path = "wallet_id", order = "ASCENDING" },
        { field_path = "created_at", order = "ASCENDING" },
      ]
    }
    threads_user_updated = {
      collection  = "threads"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "user_id", order = "ASCENDING" },
        { field_path = "updated_at", order = "DESCENDING" },
      ]
    }
  }

  # Workspace memberships of a user: collection_group("members").where(user_id == ...).
  collection_group_fields = {
    members_user = { collection = "members", field = "user_id" }
    # A deleted file leaves every vector store (shared/knowledge/repository.py, forget_file).
    store_files_file = { collection = "store_files", field = "file_id" }
  }

  # A vector store's search (shared/knowledge/search.py): the nearest chunks of one store. The dimension
  # is the knowledge embedding model's (all-MiniLM-L6-v2: 384); another model needs another index.
  vector_indexes = {
    chunks_store_embedding = {
      collection      = "chunks"
      prefilter_field = "store_id"
      vector_field    = "embedding"
      dimension       = var.knowledge_vector_dimensions
    }
  }

  # Deletion TTLs. The code must write these fields as the time the document may go:
  # idempotency.expires_at (written today), usage.expire_at and payment_events.expire_at (retention of old
  # usage records and processed payment events; to be written by the code), responses.expire_at and
  # response_inputs.expire_at (stored Responses, responses_retention_days). Holds' expires_at is NOT a
  # TTL: it is when a pending hold lapses, and holds stay as ledger history.
  ttl_fields = {
    idempotency_expires_at    = { collection = "idempotency", field = "expires_at" }
    usage_expire_at           = { collection = "usage", field = "expire_at" }
    payment_events_expire_at  = { collection = "payment_events", field = "expire_at" }
    responses_expire_at       = { collection = "responses", field = "expire_at" }
    response_inputs_expire_at = { collection = "response_inputs", field = "expire_at" }
  }
}
