"""Accounts and authentication: password and Google sign-in, rotating refresh tokens, API keys, and the
`authenticate` every protected route calls with the bearer credential."""

from __future__ import annotations

import datetime as dt
import logging
import secrets as pysecrets
import time

from google.cloud import firestore

from shared import clock, ids
from shared.adapters.mail import Mailer
from shared.audit import trail as audit
from shared.audit.trail import AuditTrail
from shared.auth.api_keys import ApiKeyRepository
from shared.auth.errors import (
    ApiKeyNotFound,
    InvalidApiKey,
    InvalidCredentials,
    InvalidEmail,
    InvalidToken,
    LoginBackoff,
    RefreshTokenReused,
    SessionRequired,
    TokenExpired,
    TooManyApiKeys,
)
from shared.auth.google import GoogleVerifier
from shared.auth.limits import AuthLimits
from shared.auth.passwords import Passwords, normalise_email
from shared.auth.repository import UserRepository
from shared.auth.schemas import (
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyOut,
    ApiKeyRecord,
    Principal,
    TokenResponse,
    UserOut,
    UserRecord,
)
from shared.auth.sessions import SessionRepository
from shared.auth.signup import CreditGrants, SignUp, Welcome
from shared.auth.tokens import AccessTokens, digest, new_api_key, new_refresh_token
from shared.auth.verification import VerifyTokens
from shared.settings import Settings

log = logging.getLogger(__name__)

API_KEY_PREFIX = "sk-"
PLAN_CACHE_SIZE = 50_000
LOCKOUT_ENTRY_WINDOW_S = 900  # one `auth.sign_in_locked` entry per account per 15 minutes


class AuthService:
    def __init__(
        self,
        db: firestore.AsyncClient,
        ledger: CreditGrants,
        settings: Settings,
        *,
        access: AccessTokens,
        google: GoogleVerifier,
        limits: AuthLimits,
        passwords: Passwords,
        verify_tokens: VerifyTokens,
        mailer: Mailer,
    ) -> None:
        self._settings = settings
        self._users = UserRepository(db)
        self._sessions = SessionRepository(db)
        self._keys = ApiKeyRepository(db)
        self._passwords = passwords
        self._access = access
        self._google = google
        self.limits = limits
        self._welcome = Welcome(ledger, self._users, settings.welcome_credits)
        # Registering, verifying the email and resending the link (shared/auth/signup.py).
        self.signup = SignUp(self._users, passwords, limits, verify_tokens, mailer, self._welcome, settings)
        self._plans: dict[str, tuple[float, str]] = {}  # user id -> (valid until, plan name)
        self.audit = AuditTrail(db)

    # -- unauthenticated entrypoints -------------------------------------------------------------------

    async def throttle(self, client_ip: str, *, fail_closed: bool = True) -> None:
        """Per-address limit on the unauthenticated auth routes; raises RateLimited (503 while Redis is
        down when `fail_closed`)."""
        await self.limits.throttle(client_ip, fail_closed=fail_closed)

    async def login(self, email: str, password: str) -> TokenResponse:
        """Password sign-in; an unverified account may sign in (it has no credits until verified). Every
        attempt counts against the account's backoff (known address or not); a success resets it."""
        try:
            await self.limits.login_attempt(email)
        except LoginBackoff:
            await self._audit_lockout(email)
            raise
        user = await self._user_by_email(email)
        password_hash = user.password_hash if user else None
        if not await self._passwords.verify(password_hash, password) or user is None:
            raise InvalidCredentials()
        await self.limits.login_succeeded(email)
        if password_hash and self._passwords.needs_rehash(password_hash):
            await self._users.set_password_hash(user.id, await self._passwords.hash(password))
        await self._welcome.grant(user)
        await self.audit.write(
            audit.entry("auth.sign_in", user.id, account=user.id, details={"method": "password"})
        )
        return await self._session(user)

    async def _user_by_email(self, email: str) -> UserRecord | None:
        try:
            return await self._users.by_email(normalise_email(email))
        except InvalidEmail:
            return None

    async def _audit_lockout(self, email: str) -> None:
        """A burst of failed passwords locked the account: one entry per account per window, whatever the
        number of refused attempts (an unknown address has no account to write it to)."""
        user = await self._user_by_email(email)
        if user is None:
            return
        window = int(clock.now().timestamp()) // LOCKOUT_ENTRY_WINDOW_S
        item = audit.entry("auth.sign_in_locked", user.id, key=f"{user.id}:{window}", account=user.id)
        await self.audit.write(item)

    async def google_login(self, id_token: str) -> TokenResponse:
        identity = await self._google.verify(id_token)
        user, created = await self._users.google_account(
            identity.sub,
            normalise_email(identity.email),
            ids.new_id(),
            clock.now(),
            self._settings.default_plan,
        )
        if created:
            log.info("user registered with google", extra={"user_id": user.id})
        await self._welcome.grant(user)
        await self.audit.write(
            audit.entry("auth.sign_in", user.id, account=user.id, details={"method": "google"})
        )
        return await self._session(user)

    async def refresh(self, refresh_token: str) -> TokenResponse:
        now = clock.now()
        new_token = new_refresh_token()
        rotation = await self._sessions.rotate(
            digest(refresh_token), digest(new_token), now, self._expiry(now)
        )
        if rotation.outcome == "reused":
            log.warning("refresh token reused: family revoked", extra={"user_id": rotation.user_id})
            if rotation.user_id is not None:
                who = rotation.user_id
                await self.audit.write(audit.entry("auth.refresh_token_reused", who, account=who))
            raise RefreshTokenReused()
        if rotation.outcome == "expired":
            raise TokenExpired("The refresh token has expired; sign in again.")
        if rotation.outcome != "rotated" or rotation.user_id is None:
            raise InvalidToken("The refresh token is not valid; sign in again.")
        user = await self._users.get(rotation.user_id)
        if user is None:
            raise InvalidToken("The refresh token is not valid; sign in again.")
        return self._response(user, new_token)

    async def logout(self, refresh_token: str) -> None:
        """Revoke the session (the refresh token's family); unknown tokens are ignored (idempotent)."""
        await self._sessions.revoke_family_of(digest(refresh_token), clock.now())

    # -- bearer credentials ----------------------------------------------------------------------------

    async def authenticate(self, credential: str) -> Principal:
        """A JWT access token or an API key ("sk-..."); raises Unauthorized."""
        if credential.startswith(API_KEY_PREFIX):
            record = await self._keys.by_hash(digest(credential))
            if record is None or record.revoked_at is not None:
                raise InvalidApiKey()
            return Principal(
                record.user_id, record.user_id, "api_key", record.id, await self._plan(record.user_id)
            )
        user_id = self._access.verify(credential)
        return Principal(user_id, user_id, "jwt", plan=await self._plan(user_id))

    async def _plan(self, user_id: str) -> str:
        """The user's plan name, cached per instance for plan_cache_s: a plan change (an upgrade) reaches
        every instance within that time, and a busy user costs one user read per period, not per call."""
        now = time.monotonic()
        cached = self._plans.get(user_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        user = await self._users.get(user_id)
        if user is not None and user.state != "active":
            raise InvalidToken("This account has been deleted.")
        plan = (user.plan if user else None) or self._settings.default_plan
        if len(self._plans) >= PLAN_CACHE_SIZE:
            self._plans.clear()
        self._plans[user_id] = (now + self._settings.plan_cache_s, plan)
        return plan

    def forget(self, user_id: str) -> None:
        """Drop what this instance remembers of the account (its plan): the next call reads it again.
        Other instances notice within plan_cache_s."""
        self._plans.pop(user_id, None)

    # -- API keys --------------------------------------------------------------------------------------

    @staticmethod
    def _session_only(principal: Principal) -> None:
        if principal.auth != "jwt":
            raise SessionRequired()

    async def create_api_key(self, principal: Principal, name: str = "") -> ApiKeyCreated:
        """A new key, shown once; only from a signed-in session, and at most settings.max_api_keys live."""
        self._session_only(principal)
        limit = self._settings.max_api_keys
        if await self._keys.count_active(principal.user_id) >= limit:
            raise TooManyApiKeys(limit)
        key = new_api_key()
        record = ApiKeyRecord(
            id="key_" + pysecrets.token_hex(6),
            user_id=principal.user_id,
            name=name.strip(),
            prefix=key[len(API_KEY_PREFIX) : len(API_KEY_PREFIX) + 8],
            last4=key[-4:],
            created_at=clock.now(),
            revoked_at=None,
        )
        await self._keys.add(digest(key), record)
        log.info("api key created", extra={"user_id": principal.user_id, "key_id": record.id})
        who = principal.user_id
        await self.audit.write(audit.entry("api_key.create", who, account=who, target=record.id))
        return ApiKeyCreated(**ApiKeyOut.of(record).model_dump(), key=key)

    async def list_api_keys(self, principal: Principal) -> ApiKeyList:
        self._session_only(principal)
        records = await self._keys.active_for(principal.user_id)
        return ApiKeyList(data=[ApiKeyOut.of(r) for r in records])

    async def delete_api_key(self, principal: Principal, key_id: str) -> None:
        self._session_only(principal)
        if not await self._keys.revoke(principal.user_id, key_id, clock.now()):
            raise ApiKeyNotFound()
        log.info("api key deleted", extra={"user_id": principal.user_id, "key_id": key_id})
        who = principal.user_id
        await self.audit.write(audit.entry("api_key.delete", who, account=who, target=key_id))

    # -- helpers ---------------------------------------------------------------------------------------

    async def _session(self, user: UserRecord) -> TokenResponse:
        now = clock.now()
        refresh_token = new_refresh_token()
        await self._sessions.start(user.id, digest(refresh_token), now, self._expiry(now))
        return self._response(user, refresh_token)

    def _response(self, user: UserRecord, refresh_token: str) -> TokenResponse:
        access = self._access.issue(user.id)
        return TokenResponse(
            access_token=access.token,
            expires_in=access.expires_in,
            refresh_token=refresh_token,
            user=UserOut(id=user.id, email=user.email, email_verified=user.email_verified),
        )

    def _expiry(self, now: dt.datetime) -> dt.datetime:
        return now + dt.timedelta(seconds=self._settings.refresh_token_ttl_s)
