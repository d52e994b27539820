"""The API service's wiring: every service a route uses, built once at start-up (FastAPI's lifespan) and
handed to the routes through run_services/api/deps.py. Nothing is built later, on first use."""

from __future__ import annotations

from dataclasses import dataclass

from google.cloud import firestore
from redis.asyncio import Redis

from shared.adapters.mail import build_mailer
from shared.adapters.pubsub import PubSubPublisher
from shared.adapters.secrets import SecretSource
from shared.auth.google import GoogleVerifier
from shared.auth.limits import AuthLimits
from shared.auth.passwords import Passwords
from shared.auth.service import AuthService
from shared.auth.tokens import AccessTokens, signing_secret
from shared.auth.verification import VerifyTokens
from shared.bootstrap.clients import Clients, build_clients
from shared.bootstrap.jobs import Jobs, build_jobs, guarded_reader
from shared.bootstrap.knowledge import Knowledge, build_knowledge
from shared.bootstrap.money import Money, build_buying, build_money
from shared.cache.layered import build_cache
from shared.cache.types import Embedder
from shared.catalog.audio import AudioCatalog
from shared.catalog.catalog import Catalog
from shared.catalog.embeddings import EmbeddingCatalog
from shared.catalog.speech import SpeechCatalog
from shared.chat.caching import ChatCache
from shared.chat.guard import Guardrails
from shared.chat.idempotency import IdempotencyStore
from shared.chat.service import ChatService
from shared.chat.stored_responses import StoredResponses
from shared.chat.threads import ThreadService
from shared.embeddings.service import EmbeddingService
from shared.gateway.embeddings import EmbeddingCaller, LitellmEmbedder, count_tokens
from shared.gateway.gateway import Gateway, build_gateway
from shared.gateway.moderation import LitellmModerator
from shared.gateway.speech import LitellmSpeech
from shared.gateway.transcription import LitellmTranscriber, Transcriber
from shared.guardrails.policy import plan_policies
from shared.ledger.ledger import Ledger
from shared.ledger.schemas import Balance
from shared.ledger.shards import ShardedWallets
from shared.ledger.wallet_ids import workspace_wallet_base
from shared.limits.budgets.service import Budgets
from shared.limits.concurrency import Cap, Concurrency, OpenLimits
from shared.limits.ratelimit.service import RateLimits
from shared.plans.offers import PlanOffers, plan_offers
from shared.purchases.service import Billing
from shared.settings import Settings
from shared.speech.service import SpeechService
from shared.spending.members import WorkspaceSpending
from shared.spending.payer import Payer
from shared.usage.recorder import UsageRecorder
from shared.workspaces.guardrails import WorkspaceGuardrails
from shared.workspaces.invitations import Invitations
from shared.workspaces.invite_tokens import InviteTokens
from shared.workspaces.service import WorkspaceService


@dataclass
class Workspaces:
    service: WorkspaceService
    invitations: Invitations
    wallets: ShardedWallets
    spending: WorkspaceSpending
    guardrails: WorkspaceGuardrails  # the workspaces' guardrail policies (GET/PUT .../guardrails)

    async def balance(self, user_id: str, workspace_id: str) -> tuple[Balance, int]:
        """The workspace wallet's balance (the sum of its shards) and its shard count; members only."""
        await self.service.membership(user_id, workspace_id)
        shards = await self.service.shard_count(workspace_id)
        return await self.wallets.balance(workspace_wallet_base(workspace_id), shards), shards


@dataclass
class Services:
    clients: Clients
    money: Money
    auth: AuthService
    gateway: Gateway
    chat: ChatService
    embeddings: EmbeddingService
    threads: ThreadService
    responses: StoredResponses  # stored Responses (POST /v1/responses, `store: true`)
    workspaces: Workspaces
    jobs: Jobs
    billing: Billing
    audio: AudioCatalog
    transcriber: Transcriber
    speech: SpeechService  # text to speech (POST /v1/audio/speech)
    offers: PlanOffers  # what each plan includes: the models it may call
    open_limits: OpenLimits  # chat streams and speech sessions a user may keep open at once
    knowledge: Knowledge  # files, uploads, vector stores, assistants, templates

    # The clients and money objects routes reach most, by their plain names.
    @property
    def settings(self) -> Settings:
        return self.clients.settings

    @property
    def db(self) -> firestore.AsyncClient:
        return self.clients.db

    @property
    def redis(self) -> Redis:
        return self.clients.redis

    @property
    def secrets(self) -> SecretSource:
        return self.clients.secrets

    @property
    def events(self) -> PubSubPublisher:
        return self.clients.publisher

    @property
    def catalog(self) -> Catalog:
        return self.clients.catalog

    @property
    def ledger(self) -> Ledger:
        return self.money.ledger

    @property
    def payer(self) -> Payer:
        return self.money.payer

    @property
    def usage(self) -> UsageRecorder:
        return self.money.usage

    @property
    def rate_limits(self) -> RateLimits:
        return self.money.rate_limits

    @property
    def budgets(self) -> Budgets:
        return self.money.budgets


def build_services(settings: Settings, clients: Clients | None = None) -> Services:
    clients = clients or build_clients(settings)
    money = build_money(clients)
    catalog = clients.catalog
    gateway = build_gateway(catalog, settings, clients.redis, guarded_reader(settings))
    cache = build_cache(clients.redis, settings, _embedder(settings, catalog))
    # Each plan's guardrail policy (shared/guardrails/policies.toml) with the workspaces' overrides.
    policies = WorkspaceGuardrails(money.workspaces, plan_policies())
    screens = Guardrails(policies, _moderator(settings, catalog))  # every chat door's, and jobs' prompts
    chat = ChatService(
        payer=money.payer,
        idempotency=IdempotencyStore(clients.db, settings),
        usage=money.usage,
        cache=ChatCache(cache, money.payer, money.usage, settings, sharing=money.workspaces),
        plans=plan_offers(settings),
        gateway=gateway,
        catalog=catalog,
        rate_limits=money.rate_limits,
        budgets=money.budgets,
        hold_ttl_s=settings.hold_ttl_s,
        guardrails=screens,
        leases=money.leases,
    )
    invite_secret = settings.workspace_invite_secret
    secret = invite_secret.get_secret_value() if invite_secret else signing_secret(settings, clients.secrets)
    workspaces = Workspaces(
        service=money.workspaces,
        invitations=Invitations(money.workspaces, InviteTokens(secret, settings.jwt_issuer)),
        wallets=money.wallets,
        spending=money.members,
        guardrails=policies,
    )
    jobs = build_jobs(clients, money.payer, money.usage, money.budgets, gateway, guardrails=screens)
    embeddings = build_embeddings(clients, money)
    offers = plan_offers(settings)
    return Services(
        clients=clients,
        money=money,
        auth=build_auth(clients.db, clients.redis, money.ledger, settings, clients.secrets),
        gateway=gateway,
        chat=chat,
        embeddings=embeddings,
        threads=ThreadService(clients.db),
        responses=StoredResponses(clients.db, settings.responses_retention_days),
        workspaces=workspaces,
        jobs=jobs,
        billing=build_buying(clients, money).billing,
        audio=AudioCatalog.load(settings, catalog),
        transcriber=LitellmTranscriber(settings.provider_timeout_s),
        speech=build_speech(settings, catalog, money),
        offers=offers,
        open_limits=build_open_limits(clients.redis, settings),
        knowledge=build_knowledge(
            clients.db, jobs, money.workspaces, catalog, embeddings.catalog, offers, settings
        ),
    )


def build_embeddings(clients: Clients, money: Money) -> EmbeddingService:
    """POST /v1/embeddings: the embedding models of the catalog, metered like chat."""
    return EmbeddingService(
        catalog=EmbeddingCatalog.load(clients.settings, clients.catalog),
        caller=EmbeddingCaller(),
        count=count_tokens,
        payer=money.payer,
        usage=money.usage,
        plans=plan_offers(clients.settings),
        rate_limits=money.rate_limits,
        budgets=money.budgets,
    )


def build_speech(settings: Settings, catalog: Catalog, money: Money) -> SpeechService:
    """Text to speech: the speech models of the media catalog, litellm's speech calls with the gateway's
    connect and idle timeouts, metered like chat (rate limits, budgets, the payer)."""
    speaker = LitellmSpeech(
        settings.gateway_connect_timeout_s, settings.gateway_idle_timeout_s, settings.provider_timeout_s
    )
    return SpeechService(
        SpeechCatalog.load(settings, catalog),
        speaker,
        money.payer,
        money.usage,
        plan_offers(settings),
        rate_limits=money.rate_limits,
        budgets=money.budgets,
    )


def build_open_limits(redis: Redis, settings: Settings) -> OpenLimits:
    return OpenLimits(
        Concurrency(redis, settings.concurrency_lease_ttl_s),
        streams=Cap("chat streams", "streams", "too_many_streams", settings.max_open_streams),
        speech=Cap("speech sessions", "speech", "too_many_speech_sessions", settings.max_speech_sessions),
        job_events=Cap(
            "job event streams", "job-events", "too_many_event_streams", settings.max_job_event_streams
        ),
    )


def build_auth(
    db: firestore.AsyncClient, redis: Redis, ledger: Ledger, settings: Settings, secrets: SecretSource
) -> AuthService:
    """Accounts and sign-in: tokens signed with the configured secret, Google's verifier, the limits on
    the auth routes (on this Redis), Argon2id passwords, email verification links sent by the mailer;
    the ledger grants welcome credits."""
    secret = signing_secret(settings, secrets)
    access = AccessTokens(secret, settings.jwt_issuer, settings.jwt_audience, settings.access_token_ttl_s)
    return AuthService(
        db,
        ledger,
        settings,
        access=access,
        google=GoogleVerifier(settings),
        limits=AuthLimits(redis, settings),
        passwords=Passwords(),
        verify_tokens=VerifyTokens(secret, settings.jwt_issuer, settings.email_verify_ttl_s),
        mailer=build_mailer(settings, secrets),
    )


def _moderator(settings: Settings, catalog: Catalog) -> LitellmModerator | None:
    """The moderation endpoint of the guardrails, when a model is named and its provider is configured."""
    provider = catalog.providers.get(settings.moderation_provider)
    if settings.moderation_model is None or provider is None or not provider.available:
        return None
    return LitellmModerator(
        settings.moderation_model, provider.api_key, provider.api_base, settings.provider_timeout_s
    )


def _embedder(settings: Settings, catalog: Catalog) -> Embedder | None:
    """The semantic cache's embedder, when it is switched on and its provider is configured."""
    model = settings.semantic_cache_embedding_model
    provider = catalog.providers.get(settings.semantic_cache_embedding_provider)
    if not settings.semantic_cache_enabled or model is None or provider is None or not provider.available:
        return None
    return LitellmEmbedder(model, provider.api_key, provider.api_base, dimensions=256)


async def close_services(services: Services) -> None:
    await services.gateway.aclose()
    await services.money.close()
    await services.jobs.close()
    await services.clients.close()
