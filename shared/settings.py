"""One typed settings object, read from the environment once per process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_CATALOG = Path(__file__).parent / "catalog" / "models.toml"
LOCAL_ORIGINS = ("http://localhost:3000", "http://localhost:5173")  # the usual web dev servers


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", case_sensitive=False)

    environment: Literal["local", "test", "production"] = "local"
    gcp_project: str = Field("demo-local", validation_alias="GOOGLE_CLOUD_PROJECT")
    log_level: str = "INFO"
    # Traces (shared/telemetry/tracing.py): gcp (Cloud Trace), console (stderr, `make run`), memory (tests).
    trace_exporter: Literal["none", "memory", "console", "gcp"] = "none"
    service_name: str = "ai-backend-api"
    # Metrics (shared/telemetry/metrics.py): gcp (Cloud Monitoring) or prometheus (GET /internal/metrics
    # with `Authorization: Bearer <METRICS_TOKEN>`; without a token the route does not exist).
    metrics_exporter: Literal["none", "prometheus", "gcp"] = "none"
    metrics_token: SecretStr | None = None
    # Error reports (shared/telemetry/error_reports.py): Sentry when a DSN is set, scrubbed of PII.
    sentry_dsn: SecretStr | None = None
    max_templates: int = Field(200, ge=1)  # prompt templates per user and per workspace
    max_assistants: int = Field(100, ge=1)  # assistants per user and per workspace
    # LLM traces (shared/telemetry/llm_traces.py): Langfuse when both keys are set; no content is sent.
    langfuse_public_key: str | None = None
    langfuse_secret_key: SecretStr | None = None
    langfuse_host: str = "https://cloud.langfuse.com"

    # Where secrets come from: the process environment (local, tests) or Secret Manager (cloud).
    secret_source: Literal["env", "secret-manager"] = "env"  # noqa: S105

    redis_url: str = "redis://127.0.0.1:6379/0"

    # Auth (RFC 8725: one pinned algorithm, iss/aud/exp always checked).
    jwt_secret: SecretStr | None = None
    jwt_issuer: str = "ai-backend"
    jwt_audience: str = "ai-backend-api"
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 30 * 24 * 3600
    # The console's refresh cookie (run_services/api/auth_cookie.py) is `Secure` unless this says otherwise;
    # unset, it is left off only for plain http to a loopback address (make run, the browser tests).
    refresh_cookie_secure: bool | None = None
    google_client_id: str | None = None
    google_certs_url: str = "https://www.googleapis.com/oauth2/v1/certs"
    auth_rate_per_minute: int = 20

    # Issue 11, items 1 and 7 (shared/auth/signup.py, shared/auth/limits.py, shared/adapters/mail.py).
    # Sign-ups per address (an IPv6 address counts as its /64) and in all per hour; a verification link is
    # valid email_verify_ttl_s and resent at most verify_resend_per_hour times an hour. Password sign-ins of
    # one account (whatever the address) get login_free_failures tries per login_failure_window_s, then
    # each try waits login_backoff_base_s, doubling up to login_backoff_max_s. auth_auto_verify_email marks
    # new accounts verified at once (tests only; refused in production).
    signup_per_address_per_hour: int = Field(5, ge=1)
    signup_global_per_hour: int = Field(1000, ge=1)
    email_verify_ttl_s: int = Field(48 * 3600, ge=60)
    verify_resend_per_hour: int = Field(3, ge=1)
    login_free_failures: int = Field(5, ge=1)
    login_failure_window_s: int = Field(900, ge=1)
    login_backoff_base_s: float = Field(1.0, gt=0)
    login_backoff_max_s: float = Field(900.0, gt=0)
    auth_auto_verify_email: bool = False
    # Every sign-up answer takes at least this long, so the time the email took (or a notice not sent)
    # does not tell a known address from a new one.
    signup_min_response_s: float = Field(1.0, ge=0, le=10)
    # Links in emails point at public_api_url. Mail goes out through SMTP at smtp_host (required in
    # production; elsewhere, without it, messages are only logged); smtp_security is starttls (port 587),
    # ssl (port 465) or none (a local catcher). The password: SMTP_PASSWORD from the secret source.
    public_api_url: str = "http://127.0.0.1:8080"
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_s: float = Field(10.0, gt=0)
    mail_from: str = "AI backend <no-reply@localhost>"

    # Credits: 1 credit = 1 micro-USD, so 1,000,000 credits = 1 USD.
    welcome_credits: int = 1_000_000
    hold_ttl_s: int = 900
    reconcile_batch: int = 200
    # Credit leases (shared/spending/leases.py): an instance holds a small hold per (wallet, spender) and
    # admits chat calls from it in memory, flushing progress and usage records in batches. The most a
    # crash can leave uncharged is one lease per (wallet, spender) per instance. 0 turns leases off.
    credit_lease_credits: int = Field(50_000, ge=0)
    credit_lease_ttl_s: int = Field(120, ge=10)  # each flush keeps a lease's hold this long from now
    credit_lease_flush_s: float = Field(1.0, gt=0)  # how often progress and records are flushed
    credit_lease_idle_s: float = Field(30.0, gt=0)  # an idle lease is settled, the rest given back
    credit_lease_low_s: float = Field(10.0, ge=0)  # after a lease was refused: per-call holds this long

    # Models.
    catalog_path: Path = Field(DEFAULT_CATALOG, validation_alias="MODEL_CATALOG")
    local_model_url: str | None = None
    local_embedding_url: str | None = None  # the local embedding model (scripts/local_embedding_model.py)
    default_model: str | None = None
    provider_timeout_s: float = 120.0

    # Requests.
    max_request_bytes: int = 1_000_000
    idempotency_ttl_s: int = 24 * 3600
    idempotency_lock_s: int = 600

    # Gateway routing: per-attempt timeouts (provider_timeout_s is the total),
    # retries per deployment, the breaker, load balancing; Vertex AI project for vertex_ai/ models.
    gateway_connect_timeout_s: float = 10.0
    gateway_first_token_timeout_s: float = 60.0
    gateway_idle_timeout_s: float = 60.0
    gateway_max_attempts: int = 3
    gateway_retry_base_s: float = 0.25
    gateway_retry_cap_s: float = 8.0
    gateway_max_retry_after_s: float = 20.0
    gateway_breaker_failures: int = 5
    gateway_breaker_window_s: float = 30.0
    gateway_breaker_open_s: float = 30.0
    gateway_balance: Literal["least_inflight", "latency"] = "least_inflight"
    vertex_project: str | None = None
    vertex_location: str | None = None
    # The native lane (shared/gateway/native/): OpenAI-wire providers (these litellm prefixes) called
    # directly on one pooled HTTP client per deployment. NATIVE_LANE=0 sends every call through litellm.
    native_lane: bool = True
    native_lane_providers: str = "openai,xai,deepseek,openrouter,groq,together_ai,fireworks_ai"
    native_lane_max_connections: int = Field(1000, ge=1)  # per deployment
    native_lane_keepalive: int = Field(100, ge=0)
    # litellm is imported on first need (shared/gateway/lazy.py); the API imports it in a background
    # thread once it serves, so the first translated-provider or media call does not wait for it:
    # `auto` when something configured is served through litellm (shared/bootstrap/warmup.py),
    # `always`, or `never` (1/true/on and 0/false/off are read as always and never).
    litellm_warmup: Literal["auto", "always", "never"] = "auto"

    # Response cache: shared/cache/. Hits cost cache_hit_price_percent of the
    # original answer's price (0 = free). The semantic layer is off by default and needs an embedding model.
    response_cache_enabled: bool = True
    response_cache_ttl_s: int = Field(3600, ge=1)
    cache_hit_price_percent: int = Field(0, ge=0, le=100)
    semantic_cache_enabled: bool = False
    semantic_cache_threshold: float = Field(0.95, gt=0, le=1)
    semantic_cache_max_entries: int = Field(200, ge=1)
    semantic_cache_embedding_model: str | None = None  # a litellm model, e.g. openai/text-embedding-3-small
    semantic_cache_embedding_provider: str = "openai"  # the catalog provider whose key and base it uses
    # The guardrails' moderation check (checks.moderation, off unless a policy enables it): a litellm
    # moderation model, e.g. omni-moderation-latest, called with the key and base of moderation_provider.
    moderation_model: str | None = None
    moderation_provider: str = "openai"

    # Plans, rate limits, budgets and events: shared/plans/limits.py, shared/limits/ratelimit/,
    # shared/limits/budgets/, shared/adapters/pubsub.py. An empty budget_alerts_topic turns budget alerts off.
    plans_path: Path = Path(__file__).parent / "plans" / "plans.toml"
    default_plan: str = "free"
    plan_cache_s: float = 60.0
    budget_alerts_topic: str = "budget-alerts"
    pubsub_emulator_host: str | None = None

    # Jobs: shared/jobs/, functions/jobs/ and the adapters shared/adapters/tasks.py, storage.py, oidc.py.
    # Steps are Cloud Tasks on jobs_queue that POST to jobs_worker_url; in the cloud each carries an OIDC
    # token for tasks_service_account, and the worker checks it when jobs_oidc_audience is set.
    tasks_emulator_host: str | None = None
    tasks_location: str = "us-central1"
    jobs_queue: str = "jobs"
    jobs_worker_url: str = "http://127.0.0.1:8092/"
    tasks_service_account: str | None = None
    jobs_oidc_audience: str | None = None
    jobs_max_attempts: int = Field(5, ge=1)
    jobs_step_lease_s: int = Field(300, ge=1)
    jobs_deadline_s: int = Field(1800, ge=1)
    jobs_topic: str = "job-events"
    jobs_bucket: str = "ai-backend-local-media"
    storage_emulator_host: str | None = None
    signed_url_ttl_s: int = Field(3600, ge=1, le=7 * 24 * 3600)
    media_catalog_path: Path = Path(__file__).parent / "catalog" / "media.toml"
    images_wait_s: float = Field(30.0, ge=0)
    jobs_events_poll_s: float = Field(0.5, gt=0)

    # Video and research jobs: shared/jobs/video_job.py, shared/jobs/research/, shared/gateway/video.py,
    # shared/gateway/search.py. A video step polls its operation every video_poll_s (a scheduled task);
    # search_provider picks the web-search API (its key: TAVILY_API_KEY, EXA_API_KEY, VALYU_API_KEY or
    # BRAVE_SEARCH_API_KEY); research_allow_private_urls lets the reader fetch local addresses (tests).
    video_poll_s: float = Field(10.0, gt=0)
    video_max_polls: int = Field(120, ge=1)
    search_provider: Literal["tavily", "exa", "valyu", "brave"] = "tavily"
    search_api_base: str | None = None
    search_timeout_s: float = Field(20.0, gt=0)
    research_deadline_s: int = Field(1800, ge=1)
    research_max_queries: int = Field(4, ge=1, le=10)
    research_fetch_timeout_s: float = Field(10.0, gt=0)
    research_fetch_max_bytes: int = Field(500_000, ge=1000)
    research_source_bytes: int = Field(3000, ge=200)
    research_report_max_tokens: int = Field(2000, ge=100)
    research_allow_private_urls: bool = False

    # Issue 11 item 11 (the research reader, shared/jobs/research/html_text.py): how long turning one page's
    # HTML into text may take (in a worker thread); a page cut short keeps the words read so far.
    research_parse_budget_s: float = Field(2.0, gt=0, le=30)

    # Speech to text over WebSocket (run_services/api/routes/audio.py, shared/audio/) and export jobs
    # (shared/export/). A stream reserves stt_max_seconds of audio up front (at least stt_min_seconds, or it
    # is refused) and gets a partial transcript every stt_partial_every_s seconds of audio. export_font_path:
    # a TTF with wide Unicode cover for PDFs (default: DejaVu Sans where the system has it).
    stt_max_seconds: int = Field(600, ge=1)
    stt_min_seconds: int = Field(10, ge=1)
    stt_partial_every_s: float = Field(5.0, gt=0)
    stt_start_timeout_s: float = Field(10.0, gt=0)
    stt_idle_timeout_s: float = Field(30.0, gt=0)
    export_font_path: Path | None = None

    # Billing: shared/purchases/, functions/payments/, run_services/api/routes/billing.py. Secrets come from
    # the secret source: STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRETS (comma-separated: two during a rotation),
    # SSLCOMMERZ_STORE_PASSWORD. Webhook timestamps older than the tolerance, or ahead by more than the skew,
    # are refused. payments_url is where the payments function is reached (SSLCommerz IPN and redirects).
    billing_config_path: Path = Path(__file__).parent / "purchases" / "packages.toml"
    stripe_api_base: str = "https://api.stripe.com"
    stripe_webhook_tolerance_s: int = Field(300, ge=1)
    stripe_webhook_skew_s: int = Field(30, ge=0)
    sslcommerz_api_base: str = "https://sandbox.sslcommerz.com"
    sslcommerz_store_id: str | None = None
    sslcommerz_timeout_s: float = Field(10.0, gt=0)
    payments_url: str = "http://127.0.0.1:8093"
    billing_return_url: str = "http://127.0.0.1:8080/billing"
    payment_event_lease_s: int = Field(60, ge=1)
    payment_event_retention_days: int = Field(90, ge=4)  # TTL of payment_events (provider retries: days)

    # Workspaces: shared/workspaces/, shared/ledger/shards.py, routes/workspaces.py, routes/usage.py.
    # Invitation tokens are signed with workspace_invite_secret (absent: a key derived from the JWT secret).
    # A workspace wallet is split over workspace_wallet_shards ledger wallets (fixed per workspace
    # at creation).
    workspace_invite_secret: SecretStr | None = None
    workspace_invite_ttl_s: int = Field(7 * 24 * 3600, ge=60)
    # A new workspace's plan until a subscription pays for more: one that costs nothing to give.
    workspace_default_plan: str = "free"
    workspace_wallet_shards: int = Field(16, ge=1, le=64)
    usage_max_days: int = Field(366, ge=1)
    # Usage records are deleted by Firestore's TTL policy this many days after they are written.
    usage_retention_days: int = Field(400, ge=1)
    # Stored Responses (POST /v1/responses with `store: true`) are deleted this many days after they are
    # written (OpenAI keeps them 30 days); threads are kept until deleted.
    responses_retention_days: int = Field(30, ge=1)

    # Quotas per account (issue 11, item 6): past a count 409, past a concurrency cap 429, each with its
    # own code. Concurrency leases (shared/limits/concurrency.py) expire after concurrency_lease_ttl_s
    # when an instance dies without releasing them.
    max_api_keys: int = Field(20, ge=1)
    max_workspaces_owned: int = Field(10, ge=1)
    max_threads: int = Field(1_000, ge=1)
    # Issue 17, item 4 (shared/chat/thread_content.py): a thread message with image parts is stored in one
    # Firestore document (1 MiB at most), so its content may take this many bytes as JSON; more is 413
    # `message_too_large` (send a larger image as an https URL, which is stored as the URL).
    thread_message_max_bytes: int = Field(900_000, ge=1_000, le=1_000_000)
    max_stored_jobs: int = Field(1_000, ge=1)
    max_open_streams: int = Field(8, ge=1)
    max_speech_sessions: int = Field(2, ge=1)
    # Job event streams (GET /v1/jobs/{id}/events) open at once per user; a quiet job is polled less and
    # less often, up to jobs_events_poll_max_s (issue 11, item 10).
    max_job_event_streams: int = Field(10, ge=1)
    jobs_events_poll_max_s: float = Field(5.0, gt=0)
    concurrency_lease_ttl_s: int = Field(3_600, ge=60)
    # A streamed answer whose one write to the client has not completed after this long (the client stopped
    # reading and every buffer on the way is full) is cut: the provider stream is closed and the call pays
    # for what was produced, with outcome `client_stalled` (run_services/api/streaming.py).
    stream_stall_s: float = Field(30.0, gt=0)

    # Issue 11, items 8 and 12 (run_services/api/middleware.py, main.py, shared/chat/schemas.py): the body
    # limit (max_request_bytes, above) counts bytes as they arrive, chunked or not; one chat message holds at
    # most max_message_chars characters. /docs, /redoc and /openapi.json are off in production unless
    # api_docs_enabled; Strict-Transport-Security is sent outside local and test environments.
    max_message_chars: int = Field(200_000, ge=1)
    api_docs_enabled: bool = False

    # Issue 12, item 2 (shared/chat/content.py): images, audio and files in chat messages. A chat request may
    # be larger than other bodies (max_chat_request_bytes, counted like max_request_bytes as it arrives); a
    # `data:` image decodes to at most max_image_bytes (5 MB: Anthropic's per-image limit, the smallest of
    # the providers'), an audio clip or file to at most max_attachment_bytes; at most max_images_per_request
    # image parts and max_attachments_per_request audio and file parts in all the messages of a request.
    max_chat_request_bytes: int = Field(8_000_000, ge=1)
    # Issue 14, item 1 (shared/files/): POST /v1/files may send a body this large (a file up to the plan's
    # max_file_bytes, in shared/plans/plans.toml, plus the form around it).
    max_file_request_bytes: int = Field(21_000_000, ge=1)
    # Issue 14, items 2-3 (shared/knowledge/): vector stores. Their chunks are embedded with
    # knowledge_embedding_model (None: the catalog's default_embedding_model); one file is indexed up to
    # knowledge_max_file_tokens tokens (its worst case is reserved before ingestion starts); a store holds
    # at most knowledge_max_store_files files and an owner at most knowledge_max_stores stores.
    knowledge_embedding_model: str | None = None
    knowledge_max_file_tokens: int = Field(2_000_000, ge=1_000)
    knowledge_max_store_files: int = Field(500, ge=1)
    knowledge_max_stores: int = Field(100, ge=1)
    max_images_per_request: int = Field(16, ge=0)
    max_image_bytes: int = Field(5_000_000, ge=1)
    max_attachments_per_request: int = Field(4, ge=0)
    max_attachment_bytes: int = Field(5_000_000, ge=1)

    # Issue 12, item 6 (run_services/api/cors.py): the browser origins allowed to call the API, comma-
    # separated. Unset: the usual dev servers' origins locally and in tests, none in production (Terraform's
    # cors_origins sets them there).
    cors_origins: str | None = None

    def allowed_origins(self) -> list[str]:
        if self.cors_origins is None:
            return list(LOCAL_ORIGINS) if self.environment != "production" else []
        return [o.strip().rstrip("/") for o in self.cors_origins.split(",") if o.strip()]

    # Issue 17 (run_services/api/console.py): the web console's built files (console/dist, `npm run build`),
    # served under /app when the folder exists. The image builds them in its own stage.
    console_dir: Path = Path(__file__).parent.parent / "console" / "dist"

    # Issue 11, item 12: Redis AUTH and TLS (shared/adapters/redis.py). REDIS_URL may be rediss:// (TLS: the
    # server's certificate is always verified, against redis_ca_cert (PEM text) or redis_ca_cert_path (a PEM
    # file) when set, else the system's CAs). redis_password_secret names the secret holding the AUTH
    # password, read through the secret source (locally: the environment variable of that name); a named
    # secret without a value stops the process at startup. redis_tls_check_hostname also matches the
    # certificate to the host; Terraform turns it off for Memorystore, whose CA is the instance's own.
    redis_password_secret: str | None = None
    redis_ca_cert: str | None = None
    redis_ca_cert_path: Path | None = None
    redis_tls_check_hostname: bool = True

    @field_validator("litellm_warmup", mode="before")
    @classmethod
    def _warmup_words(cls, value: object) -> object:
        words = {"1": "always", "true": "always", "on": "always"}
        words |= {"0": "never", "false": "never", "off": "never"}
        if isinstance(value, bool):
            return "always" if value else "never"
        return words.get(str(value).strip().lower(), value)

    @model_validator(mode="after")
    def _no_shortcuts_in_production(self) -> Settings:
        if self.environment == "production" and self.auth_auto_verify_email:
            raise ValueError(
                "AUTH_AUTO_VERIFY_EMAIL is for local runs and tests only: unset it in production, where "
                "welcome credits need a verified email."
            )
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
