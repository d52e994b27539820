"""The security and reliability policies hold for the whole configuration, and each one catches a small
bad snippet (so these tests can fail)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra import policies
from tests.infra.tfconfig import Module, module_dirs, parse

MODULES = [parse(d) for d in module_dirs()]

POLICIES = [
    policies.public_access,
    policies.private_callers,
    policies.own_service_accounts,
    policies.no_plain_secrets,
    policies.private_buckets,
    policies.queue_limits,
    policies.dead_letters,
    policies.described,
]


def _snippet(tmp_path: Path, text: str, name: str = "platform") -> list[Module]:
    path = tmp_path / name
    path.mkdir()
    (path / "main.tf").write_text(text)
    return [parse(path)]


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.__name__)
def test_policy_holds(policy):
    assert policy(MODULES) == []


def test_the_policies_see_the_resources_they_police():
    kinds = {t for m in MODULES for t, _, _ in m.resources}
    assert {
        "google_storage_bucket",
        "google_cloud_tasks_queue",
        "google_pubsub_subscription",
        "google_cloud_run_v2_service_iam_member",
    } <= kinds
    assert len(policies._workload_calls(MODULES)) == 4


def test_all_users_outside_the_public_switch_is_caught(tmp_path):
    bad = _snippet(
        tmp_path,
        'resource "google_storage_bucket_iam_member" "x" {\n  bucket = "b"\n'
        '  role   = "roles/storage.objectViewer"\n  member = "allUsers"\n}\n',
    )
    (problem,) = policies.public_access(bad)
    assert "google_storage_bucket_iam_member.x grants" in problem


def test_a_public_switch_on_a_private_target_is_caught(tmp_path):
    bad = _snippet(
        tmp_path,
        'module "reconciler_function" {\n  source = "../cloud_function"\n  name   = "reconciler"\n'
        "  public = true\n}\n",
    )
    (problem,) = policies.public_access(bad)
    assert "'reconciler') is public" in problem


def test_a_private_target_without_named_callers_is_caught(tmp_path):
    bad = _snippet(
        tmp_path,
        'module "jobs_worker_function" {\n  source   = "../cloud_function"\n  name     = "jobs-worker"\n'
        '  invokers = ["allAuthenticatedUsers"]\n}\n',
    )
    (problem,) = policies.private_callers(bad)
    assert "not service accounts of this platform" in problem


def test_a_shared_service_account_is_caught(tmp_path):
    bad = _snippet(
        tmp_path,
        'module "api" {\n  source                = "../cloud_run_service"\n  name                  = "api"\n'
        '  service_account_email = module.service_accounts.emails["api"]\n}\n\n'
        'module "reconciler_function" {\n  source                = "../cloud_function"\n'
        '  name                  = "reconciler"\n'
        '  service_account_email = module.service_accounts.emails["api"]\n}\n',
    )
    problems = "\n".join(policies.own_service_accounts(bad))
    assert "share service account 'api'" in problems
    assert "(name 'reconciler') runs as 'api'" in problems


@pytest.mark.parametrize(
    "text",
    [
        'locals {\n  env = {\n    LOG_LEVEL         = "INFO"\n    STRIPE_SECRET_KEY = "sk_live_x"\n  }\n}\n',
        'module "api" {\n  source = "../cloud_run_service"\n  env = {\n    OPENAI_API_KEY = var.k\n  }\n}\n',
        'resource "google_cloud_run_v2_service" "s" {\n  template {\n    containers {\n'
        '      env {\n        name  = "GITHUB_TOKEN"\n        value = "x"\n      }\n    }\n  }\n}\n',
    ],
    ids=["locals-map", "module-env", "cloud-run-env-block"],
)
def test_a_secret_in_a_plain_env_var_is_caught(tmp_path, text):
    assert len(policies.no_plain_secrets(_snippet(tmp_path, text))) == 1


def test_secret_references_are_not_flagged(tmp_path):
    ok = _snippet(
        tmp_path,
        'module "api" {\n  source = "../cloud_run_service"\n  secret_env = {\n'
        '    JWT_SECRET = module.secrets.secret_ids["jwt-secret"]\n  }\n}\n',
    )
    assert policies.no_plain_secrets(ok) == []


def test_a_public_or_fine_grained_bucket_is_caught(tmp_path):
    bad = _snippet(
        tmp_path,
        'resource "google_storage_bucket" "b" {\n  name                        = "b"\n  location = "US"\n'
        '  uniform_bucket_level_access = false\n  public_access_prevention    = "inherited"\n}\n',
    )
    problems = "\n".join(policies.private_buckets(bad))
    assert "uniform_bucket_level_access = true" in problems
    assert 'public_access_prevention = "enforced"' in problems


def test_a_queue_without_retry_or_rate_limits_is_caught(tmp_path):
    bad = _snippet(
        tmp_path,
        'resource "google_cloud_tasks_queue" "q" {\n  name     = "q"\n  location = "us-central1"\n'
        "  retry_config {\n    max_attempts = 5\n  }\n}\n",
    )
    problems = "\n".join(policies.queue_limits(bad))
    assert "retry_config needs ['min_backoff', 'max_backoff', 'max_retry_duration']" in problems
    assert "rate_limits needs" in problems


def test_a_subscription_without_dead_letter_policy_is_caught(tmp_path):
    bad = _snippet(
        tmp_path,
        'resource "google_pubsub_subscription" "s" {\n  name  = "s"\n  topic = google_pubsub_topic.t.id\n}\n',
    )
    problems = "\n".join(policies.dead_letters(bad))
    assert "add dead_letter_policy" in problems and "add a retry_policy" in problems


def test_dead_letters_without_the_pubsub_agent_grants_are_caught(tmp_path):
    bad = _snippet(
        tmp_path,
        'resource "google_pubsub_subscription" "s" {\n  name  = "s"\n  topic = google_pubsub_topic.t.id\n'
        "  dead_letter_policy {\n    dead_letter_topic     = google_pubsub_topic.dead_letter.id\n"
        '    max_delivery_attempts = 5\n  }\n  retry_policy {\n    minimum_backoff = "10s"\n  }\n}\n',
    )
    (problem,) = policies.dead_letters(bad)
    assert "grant the Pub/Sub service agent" in problem


def test_an_undescribed_variable_or_output_is_caught(tmp_path):
    bad = _snippet(
        tmp_path,
        'variable "a" {\n  type = string\n}\n\nvariable "b" {\n  description = "b"\n}\n\n'
        'output "o" {\n  value = 1\n}\n',
    )
    problems = "\n".join(policies.described(bad))
    assert 'variable "a" needs a description' in problems
    assert 'variable "b" needs a type' in problems
    assert 'output "o" needs a description' in problems


def test_a_service_or_function_on_the_default_account_is_caught(tmp_path):
    bad = _snippet(
        tmp_path,
        'resource "google_cloud_run_v2_service" "s" {\n  name = "s"\n  template {\n    containers {\n'
        '      image = "i"\n    }\n  }\n}\n\nresource "google_cloudfunctions2_function" "f" {\n  name = "f"\n'
        "  service_config {\n    timeout_seconds = 60\n  }\n}\n",
    )
    problems = "\n".join(policies.own_service_accounts(bad))
    assert "google_cloud_run_v2_service.s: set template.service_account" in problems
    assert "google_cloudfunctions2_function.f: set service_config.service_account_email" in problems
