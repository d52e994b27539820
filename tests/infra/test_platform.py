"""What the code, Cloud Build and the runbook rely on: names, entry points, env vars, service accounts,
secrets, queue and topic settings, Cloud Run settings, Firestore indexes and TTLs, pinned versions."""

from __future__ import annotations

import re

from tests.infra.tfconfig import TERRAFORM, module_dirs, parse, strings

PLATFORM = parse(TERRAFORM / "modules" / "platform")
CALLS = PLATFORM.calls


def _text(value: object) -> str:
    return "\n".join(strings(value))


def test_service_accounts_are_the_expected_ones():
    accounts = CALLS["service_accounts"]["accounts"]
    assert set(accounts) == {
        "api",
        "payments",
        "jobs-worker",
        "reconciler",
        "tasks-invoker",
        "scheduler-invoker",
        "cloudbuild-deployer",
    }
    assert accounts["tasks-invoker"]["project_roles"] == []
    assert accounts["scheduler-invoker"]["project_roles"] == []
    assert not any(
        "roles/owner" in r or "roles/editor" in r for a in accounts.values() for r in a["project_roles"]
    )


def test_secrets_are_the_ids_the_code_reads_and_grants_are_per_secret():
    secrets = str(CALLS["secrets"]["secrets"])
    ids = set(PLATFORM.locals["provider_key_secrets"]) | set(re.findall(r'"([a-z-]+)" = ', secrets))
    expected = {
        "jwt-secret",
        "smtp-password",
        "workspace-invite-secret",
        "openai-api-key",
        "anthropic-api-key",
        "gemini-api-key",
        "xai-api-key",
        "deepseek-api-key",
        "openrouter-api-key",
        "tavily-api-key",
        "stripe-secret-key",
        "stripe-webhook-secrets",
        "sslcommerz-store-password",
        "redis-auth-string",
    }
    assert ids == expected, ids ^ expected
    assert '"stripe-webhook-secrets" = [local.sa["payments"]]' in secrets
    module = parse(TERRAFORM / "modules" / "secrets")
    assert module.of_type("google_secret_manager_secret_version") == []
    assert module.of_type("google_project_iam_member") == []
    (grant,) = [b for _, b in module.of_type("google_secret_manager_secret_iam_member")]
    assert grant["role"] == "roles/secretmanager.secretAccessor"


def test_functions_have_the_names_and_entry_points_cloud_build_deploys():
    functions = {
        body["name"]: body["entry_point"]
        for body in CALLS.values()
        if str(body.get("source", "")).endswith("cloud_function")
    }
    assert functions == {"payments": "payments", "jobs-worker": "run_step", "reconciler": "reconcile"}
    module = parse(TERRAFORM / "modules" / "cloud_function")
    ((_, fn),) = module.of_type("google_cloudfunctions2_function")
    assert fn["build_config"][0]["runtime"] == "python311"
    ignored = fn["lifecycle"][0]["ignore_changes"]
    assert any("build_config[0].source" in s for s in ignored), "Cloud Build owns the function source"


def test_api_service_is_public_streams_and_leaves_deploys_to_cloud_build():
    api = CALLS["api"]
    assert api["name"] == "api" and api["public"] is True
    assert api["min_instances"] == "${var.api_min_instances}"
    assert set(api["secret_env"]) == {"JWT_SECRET", "WORKSPACE_INVITE_SECRET", "SMTP_PASSWORD"}
    module = parse(TERRAFORM / "modules" / "cloud_run_service")
    assert module.variables["request_timeout_seconds"]["default"] == 3600
    assert module.variables["port"]["default"] == 8080
    assert module.variables["health_path"]["default"] == "/healthz"
    ((_, svc),) = module.of_type("google_cloud_run_v2_service")
    template = svc["template"][0]
    assert template["containers"][0]["resources"][0]["startup_cpu_boost"] is True
    # Credit leases flush in the background: the API keeps its CPU outside requests.
    assert template["containers"][0]["resources"][0]["cpu_idle"] == "${var.cpu_idle}"
    assert api["cpu_idle"] is False
    assert template["vpc_access"][0]["egress"] == "PRIVATE_RANGES_ONLY"
    ignored = _text(svc["lifecycle"][0]["ignore_changes"])
    for attr in ("template[0].containers[0].image", "client", "client_version", "traffic"):
        assert attr in ignored, f"ignore_changes must list {attr}, or terraform apply undoes deploys"


def test_runtime_environment_names_match_the_settings():
    env = _text(PLATFORM.locals["common_env"]) + _text(PLATFORM.locals["jobs_env"])
    env += _text(PLATFORM.locals["billing_env"]) + _text(PLATFORM.locals["mail_env"])
    env += _text(CALLS["api"]["env"])
    for name in (
        "ENVIRONMENT",
        "GOOGLE_CLOUD_PROJECT",
        "SECRET_SOURCE",
        "LOG_LEVEL",
        "REDIS_URL",
        "JOBS_WORKER_URL",
        "JOBS_OIDC_AUDIENCE",
        "TASKS_SERVICE_ACCOUNT",
        "TASKS_LOCATION",
        "JOBS_QUEUE",
        "JOBS_BUCKET",
        "JOBS_TOPIC",
        "BUDGET_ALERTS_TOPIC",
        "PAYMENTS_URL",
        "BILLING_RETURN_URL",
        "SSLCOMMERZ_STORE_ID",
        "SSLCOMMERZ_API_BASE",
        "GOOGLE_CLIENT_ID",
        "CORS_ORIGINS",
        "SMTP_HOST",
        "SMTP_PORT",
        "SMTP_SECURITY",
        "SMTP_USER",
        "MAIL_FROM",
        "PUBLIC_API_URL",
    ):
        assert name in env, f"{name} is not set for the services"
    assert PLATFORM.locals["common_env"]["ENVIRONMENT"] == "production"
    assert PLATFORM.locals["common_env"]["SECRET_SOURCE"] == "secret-manager"


def test_queue_topics_and_schedule():
    queue = CALLS["jobs_queue"]
    assert queue["name"] == "jobs" and queue["max_attempts"] == 5, "max_attempts must match JOBS_MAX_ATTEMPTS"
    topics = {b["name"] for b in CALLS.values() if str(b.get("source", "")).endswith("pubsub_topic")}
    assert topics == {"budget-alerts", "job-events", "billing-budget-alerts"}
    schedule = CALLS["reconciler_schedule"]
    assert schedule["schedule"] == "* * * * *"
    assert "scheduler-invoker" in schedule["service_account_email"]
    job = parse(TERRAFORM / "modules" / "scheduler_job")
    ((_, body),) = job.of_type("google_cloud_scheduler_job")
    oidc = body["http_target"][0]["oidc_token"][0]
    assert oidc["audience"] == body["http_target"][0]["uri"] == "${var.target_url}"
    assert CALLS["artifact_registry"]["repository_id"] == "ai-backend"


def test_firestore_has_the_query_indexes_and_deletion_ttls():
    firestore = CALLS["firestore"]
    indexes = {
        (i["collection"], i["query_scope"], tuple((f["field_path"], f["order"]) for f in i["fields"]))
        for i in firestore["composite_indexes"].values()
    }
    assert ("holds", "COLLECTION_GROUP", (("state", "ASCENDING"), ("expires_at", "ASCENDING"))) in indexes
    assert ("jobs", "COLLECTION", (("user_id", "ASCENDING"), ("created_at", "DESCENDING"))) in indexes
    assert ("threads", "COLLECTION", (("user_id", "ASCENDING"), ("updated_at", "DESCENDING"))) in indexes
    for order in ("ASCENDING", "DESCENDING"):  # GET /v1/files, order=asc|desc, with or without purpose
        assert ("files", "COLLECTION", (("owner", "ASCENDING"), ("created_at", order))) in indexes
        by_purpose = (("owner", "ASCENDING"), ("purpose", "ASCENDING"), ("created_at", order))
        assert ("files", "COLLECTION", by_purpose) in indexes
    ttls = {(t["collection"], t["field"]) for t in firestore["ttl_fields"].values()}
    assert ("idempotency", "expires_at") in ttls and ("usage", "expire_at") in ttls
    assert ("holds", "expires_at") not in ttls, (
        "holds are ledger history: their expires_at is not a deletion time"
    )


def test_versions_are_pinned_in_every_directory():
    for path in module_dirs():
        module = parse(path)
        blocks = [t for doc in module.raw for t in doc.get("terraform", [])]
        assert blocks, f"{path}: add versions.tf with required_version and required_providers"
        (block,) = blocks
        assert block["required_version"] == ">= 1.9.0, < 2.0.0"
        google = block["required_providers"][0]["google"]
        assert google["version"] == ">= 6.40.0, < 7.0.0", f"{path}: pin the google provider like the others"


def test_environments_use_a_gcs_backend_with_their_own_prefix():
    for env in ("staging", "prod"):
        root = parse(TERRAFORM / "environments" / env)
        (block,) = [t for doc in root.raw for t in doc.get("terraform", [])]
        assert block["backend"][0]["gcs"]["prefix"] == f"ai-backend/{env}"
        assert root.variables["region"]["default"] == "us-central1"
        assert root.calls["platform"]["source"] == "../../modules/platform"


def test_task_and_schedule_targets_accept_only_their_callers():
    worker, reconciler = CALLS["jobs_worker_function"], CALLS["reconciler_function"]
    assert worker["invokers"] == ['${local.sa["tasks-invoker"]}']
    assert reconciler["invokers"] == ['${local.sa["scheduler-invoker"]}']
    for call in (worker, reconciler):
        assert call.get("public", False) is False and "ingress" not in call
    module = parse(TERRAFORM / "modules" / "cloud_function")
    assert module.variables["ingress"]["default"] == "ALLOW_INTERNAL_ONLY"
    assert module.variables["public"]["default"] is False
    assert CALLS["payments_function"]["ingress"] == "ALLOW_ALL"


_MEMBERS = r'\[((?:\s*local\.sa\["[\w-]+"\]\s*,?)*)\]'
_GRANT = re.compile(r'"([a-z-]+)"\s*=\s*' + _MEMBERS)
_SA = re.compile(r'local\.sa\["([\w-]+)"\]')


def _secret_readers() -> dict[str, set[str]]:
    """Each secret of the secrets module call mapped to the workloads that may read it."""
    text = str(CALLS["secrets"]["secrets"])
    grants = {sid: set(_SA.findall(members)) for sid, members in _GRANT.findall(text)}
    provider_keys = re.search(r"for id in local\.provider_key_secrets : id => " + _MEMBERS, text)
    assert provider_keys, "provider key secrets are granted in one for expression"
    for sid in PLATFORM.locals["provider_key_secrets"]:
        grants[sid] = set(_SA.findall(provider_keys.group(1)))
    return grants


def test_each_secret_is_read_only_by_the_workloads_whose_code_reads_it():
    """Least privilege from the code: the Stripe API key is read by checkout and the customer portal
    (shared/purchases/service.py, the API); the payments function only verifies webhooks."""
    readers = _secret_readers()
    assert readers["stripe-secret-key"] == {"api"}, "payments never calls Stripe's API: no access to its key"
    assert readers["stripe-webhook-secrets"] == {"payments"}
    assert readers["jwt-secret"] == {"api"}
    assert readers["sslcommerz-store-password"] == {"api", "payments", "reconciler"}
    assert readers["openai-api-key"] == {"api", "jobs-worker"}
    redis_users = {body["name"] for body in CALLS.values() if "local.jobs_env" in str(body.get("env", ""))}
    assert redis_users == {"api", "jobs-worker", "reconciler"}
    assert readers["redis-auth-string"] == redis_users, "the AUTH string: only the services that use Redis"


def test_the_api_writes_only_its_users_objects_in_the_media_bucket():
    """The worker writes job outputs; the API (files, uploads, account deletion) and the reconciler (expired
    files and uploads) write and delete only under users/ and workspaces/ (and vector_stores/, the stores'
    saved keyword indexes), through an IAM condition on the object's name: objectAdmin over the whole bucket
    would let a compromised API touch everything."""
    media = CALLS["media_bucket"]
    assert media["object_admins"] == ['${local.sa["jobs-worker"]}']
    assert media["object_viewers"] == ['${local.sa["api"]}', '${local.sa["reconciler"]}']
    scoped = media["prefix_admins"]
    assert set(scoped) == {"api", "reconciler"}
    for grant in scoped.values():
        assert grant["prefixes"] == ["users/", "workspaces/", "vector_stores/"]
    bucket = parse(TERRAFORM / "modules" / "storage_bucket")
    roles = {name: body["role"] for name, body in bucket.of_type("google_storage_bucket_iam_member")}
    assert roles == {
        "object_admins": "roles/storage.objectAdmin",
        "object_viewers": "roles/storage.objectViewer",
        "prefix_admins": "roles/storage.objectAdmin",
    }
    (_, scoped_member), *_ = [
        (n, b) for n, b in bucket.of_type("google_storage_bucket_iam_member") if n == "prefix_admins"
    ]
    assert "startsWith" in str(scoped_member["condition"])
    # The bucket's expiry is for job outputs only: uploaded files keep their plan's retention.
    assert media["delete_suffixes"] and ".png" in media["delete_suffixes"]
    assert not any("keyword/v1.json.gz".endswith(s) for s in media["delete_suffixes"])  # not a job output


def test_redis_requires_auth_and_tls_and_the_services_use_both():
    redis = parse(TERRAFORM / "modules" / "redis")
    ((_, instance),) = redis.of_type("google_redis_instance")
    assert instance["auth_enabled"] is True
    assert instance["transit_encryption_mode"] == "SERVER_AUTHENTICATION"
    ((_, version),) = redis.of_type("google_secret_manager_secret_version")
    assert version["secret_data"] == "${google_redis_instance.this.auth_string}"
    assert version["secret"] == "projects/${var.project_id}/secrets/${var.auth_secret_id}"
    url = redis.outputs["url"]
    assert url["value"] == (
        "rediss://${google_redis_instance.this.host}:${google_redis_instance.this.port}/0"
    ), "TLS, on the port the instance reports (6378 with in-transit encryption)"
    assert "google_secret_manager_secret_version.auth_string" in _text(url["depends_on"])
    assert "google_redis_instance.this.server_ca_certs[*].cert" in redis.outputs["ca_certs"]["value"]
    call = CALLS["redis"]
    assert call["auth_secret_id"] == '${module.secrets.secret_ids["redis-auth-string"]}'
    env = PLATFORM.locals["jobs_env"]
    assert env["REDIS_URL"] == "${module.redis.url}"
    assert env["REDIS_CA_CERT"] == "${module.redis.ca_certs}"
    assert env["REDIS_TLS_CHECK_HOSTNAME"] == "false", "Memorystore's CA is the instance's own"
    # The code reads the secret REDIS_PASSWORD_SECRET names as Secret Manager's lower-case, dashed id.
    assert env["REDIS_PASSWORD_SECRET"].lower().replace("_", "-") == "redis-auth-string"
