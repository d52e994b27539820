"""Security and reliability policies over the parsed configuration (tfconfig.parse). Each takes the parsed
modules and returns problems that say what to fix; an empty list means the policy holds."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from tests.infra.tfconfig import Module, rel, strings

# Public entry points: the chat API (Cloud Run) and the payments webhook (authenticated by signature).
PUBLIC_NAMES = {"api", "payments"}
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")
WORKLOAD_MODULES = ("cloud_run_service", "cloud_function")
SECRET_NAME = re.compile(r"KEY|SECRET|PASSWORD|TOKEN|CREDENTIAL|PRIVATE")
# Settings that name where secrets come from, not secret values.
NOT_SECRETS = {"SECRET_SOURCE", "REDIS_PASSWORD_SECRET"}
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_SA_KEY = re.compile(r"""emails\["([\w-]+)"\]""")
_MEMBER_KEY = re.compile(r"""local\.sa\["([\w-]+)"\]""")


def _workload_calls(modules: Iterable[Module]) -> list[tuple[Module, str, dict[str, Any]]]:
    return [
        (m, call, body)
        for m in modules
        for call, body in m.calls.items()
        if str(body.get("source", "")).rstrip("/").endswith(WORKLOAD_MODULES)
    ]


def _first(blocks: Any) -> dict[str, Any]:
    """The first of a repeated block (hcl2 gives blocks as lists of dicts), or {}."""
    if isinstance(blocks, list) and blocks and isinstance(blocks[0], dict):
        return blocks[0]
    return {}


def public_access(modules: Iterable[Module]) -> list[str]:
    """allUsers only through a module's `public` switch, and that switch is on only for the entry points."""
    modules = list(modules)
    problems = []
    for m in modules:
        for rtype, name, body in m.resources:
            if not any(s in PUBLIC_MEMBERS for s in strings(body)):
                continue
            gated = "var.public" in str(body.get("count", ""))
            if not (gated and m.path.name in WORKLOAD_MODULES):
                problems.append(
                    f"{rel(m.path)}: {rtype}.{name} grants {PUBLIC_MEMBERS}; only the Cloud Run and function "
                    "modules may, behind `count = var.public ? 1 : 0`"
                )
    for m, call, body in _workload_calls(modules):
        public = body.get("public", False)
        if public is not False and (public is not True or body.get("name") not in PUBLIC_NAMES):
            problems.append(
                f'{rel(m.path)}: module "{call}" (name {body.get("name")!r}) is public; only '
                f"{sorted(PUBLIC_NAMES)} may be. Give it `invokers` (OIDC callers) instead"
            )
    return problems


def private_callers(modules: Iterable[Module]) -> list[str]:
    """A non-public service or function is invoked only by named service accounts (its OIDC callers)."""
    problems = []
    for m, call, body in _workload_calls(modules):
        if body.get("public") is True:
            continue
        invokers = [s for s in strings(body.get("invokers", [])) if s]
        keys = [k for s in invokers for k in _MEMBER_KEY.findall(s)]
        if not keys or len(keys) != len(invokers):
            problems.append(
                f'{rel(m.path)}: module "{call}" is private but its `invokers` are not service accounts '
                f'of this platform (local.sa["..."]): {invokers}'
            )
    return problems


def own_service_accounts(modules: Iterable[Module]) -> list[str]:
    """Every service and function runs as its own service account, named like the workload (never the
    default compute account, which is what an unset service account means)."""
    modules = list(modules)
    problems = []
    required = {
        "google_cloud_run_v2_service": ("template", "service_account"),
        "google_cloudfunctions2_function": ("service_config", "service_account_email"),
    }
    for m in modules:
        for rtype, name, body in m.resources:
            if rtype in required and not _first(body.get(required[rtype][0])).get(required[rtype][1]):
                problems.append(f"{rel(m.path)}: {rtype}.{name}: set {'.'.join(required[rtype])}")
    seen: dict[str, str] = {}
    for m, call, body in _workload_calls(modules):
        keys = _SA_KEY.findall(str(body.get("service_account_email", "")))
        name = body.get("name")
        if len(keys) != 1:
            problems.append(
                f'{rel(m.path)}: module "{call}" must set service_account_email = '
                f'module.service_accounts.emails["{name}"]'
            )
            continue
        if keys[0] in seen:
            problems.append(
                f'{rel(m.path)}: modules "{seen[keys[0]]}" and "{call}" share service account '
                f"{keys[0]!r}: give each workload its own"
            )
        if keys[0] != name:
            problems.append(f'{rel(m.path)}: module "{call}" (name {name!r}) runs as {keys[0]!r}')
        seen[keys[0]] = call
    return problems


def _env_maps(value: Any, under: str = "") -> Iterable[tuple[str, dict[str, Any]]]:
    """Maps whose keys look like environment variable names, with the attribute they sit under."""
    if isinstance(value, dict):
        keys = [k for k in value if k != "__is_block__"]
        if keys and all(ENV_NAME.match(k) for k in keys):
            yield under, value
        for k, v in value.items():
            yield from _env_maps(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _env_maps(v, under)


def _env_blocks(value: Any) -> Iterable[dict[str, Any]]:
    """Cloud Run `env { name = ..., value = ... }` blocks."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "env" and isinstance(v, list):
                yield from (b for b in v if isinstance(b, dict))
            yield from _env_blocks(v)
    elif isinstance(value, list):
        for v in value:
            yield from _env_blocks(v)


def no_plain_secrets(modules: Iterable[Module]) -> list[str]:
    """Env vars named like secrets come from Secret Manager references, never plain values."""
    problems = []
    for m in modules:
        for doc in m.raw:
            for under, env in _env_maps(doc):
                if under == "secret_env":
                    continue
                problems += [
                    f"{rel(m.path)}: {name} is a plain environment value; pass it in `secret_env` "
                    "(a Secret Manager reference)"
                    for name in env
                    if SECRET_NAME.search(name) and name not in NOT_SECRETS
                ]
            for block in _env_blocks(doc):
                name = str(block.get("name", ""))
                if SECRET_NAME.search(name) and "value" in block:
                    problems.append(
                        f"{rel(m.path)}: env {name} has a plain value; use value_source.secret_key_ref"
                    )
    return problems


def private_buckets(modules: Iterable[Module]) -> list[str]:
    problems = []
    for m in modules:
        for name, body in m.of_type("google_storage_bucket"):
            if body.get("uniform_bucket_level_access") is not True:
                problems.append(f"{rel(m.path)}: bucket {name}: set uniform_bucket_level_access = true")
            if body.get("public_access_prevention") != "enforced":
                problems.append(f'{rel(m.path)}: bucket {name}: set public_access_prevention = "enforced"')
    return problems


def queue_limits(modules: Iterable[Module]) -> list[str]:
    problems = []
    for m in modules:
        for name, body in m.of_type("google_cloud_tasks_queue"):
            retry = _first(body.get("retry_config"))
            needed = ("max_attempts", "min_backoff", "max_backoff", "max_retry_duration")
            missing = [k for k in needed if k not in retry]
            if missing:
                problems.append(f"{rel(m.path)}: queue {name}: retry_config needs {missing}")
            rate = _first(body.get("rate_limits"))
            missing = [k for k in ("max_dispatches_per_second", "max_concurrent_dispatches") if k not in rate]
            if missing:
                problems.append(f"{rel(m.path)}: queue {name}: rate_limits needs {missing}")
    return problems


def dead_letters(modules: Iterable[Module]) -> list[str]:
    """Subscriptions have dead-letter and retry policies (except those reading a dead-letter topic), and the
    Pub/Sub service agent may publish to the dead-letter topic and subscribe to the source subscriptions."""
    problems = []
    for m in modules:
        subs = m.of_type("google_pubsub_subscription")
        for name, body in subs:
            if "dead_letter" in str(body.get("topic", "")):
                continue
            policy = _first(body.get("dead_letter_policy"))
            if "dead_letter_topic" not in policy or "max_delivery_attempts" not in policy:
                problems.append(
                    f"{rel(m.path)}: subscription {name}: add dead_letter_policy "
                    "{ dead_letter_topic, max_delivery_attempts }"
                )
            if not _first(body.get("retry_policy")):
                problems.append(f"{rel(m.path)}: subscription {name}: add a retry_policy")
        if any("dead_letter_policy" in body for _, body in subs):
            topic_grants = [
                b
                for _, b in m.of_type("google_pubsub_topic_iam_member")
                if _is_pubsub_agent(m, b) and "dead_letter" in str(b.get("topic"))
            ]
            sub_grants = [
                b
                for _, b in m.of_type("google_pubsub_subscription_iam_member")
                if _is_pubsub_agent(m, b) and b.get("role") == "roles/pubsub.subscriber"
            ]
            if not any(b.get("role") == "roles/pubsub.publisher" for b in topic_grants) or not sub_grants:
                problems.append(
                    f"{rel(m.path)}: grant the Pub/Sub service agent (service-PROJECT_NUMBER@gcp-sa-pubsub) "
                    "publisher on the dead-letter topic and subscriber on the source subscriptions"
                )
    return problems


def _is_pubsub_agent(m: Module, grant: dict[str, Any]) -> bool:
    member = str(grant.get("member", ""))
    for name, value in m.locals.items():
        member = member.replace("${local." + name + "}", str(value))
    return bool(re.search(r"service-.*@gcp-sa-pubsub\.iam\.gserviceaccount\.com", member))


def described(modules: Iterable[Module]) -> list[str]:
    problems = []
    for m in modules:
        for kind, blocks in (("variable", m.variables), ("output", m.outputs)):
            for name, body in blocks.items():
                if not str(body.get("description", "")).strip():
                    problems.append(f'{rel(m.path)}: {kind} "{name}" needs a description')
                if kind == "variable" and "type" not in body:
                    problems.append(f'{rel(m.path)}: variable "{name}" needs a type')
    return problems
