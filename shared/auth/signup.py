"""Sign-up with a verified email (issue 11, items 1 and 7).

- `register` answers the same for a new address and a known one (SignUpAccepted, the password hashed
  either way): the new address gets a verification link, the known one's owner an email saying someone
  tried. No tokens: the user signs in with the password (which works unverified).
- `verify` (the link) marks the account verified and grants the welcome credits; idempotent.
- `resend` sends a new link to a signed-in, unverified user (rate-limited).
- `Welcome` grants WELCOME_CREDITS once (`welcome:{user_id}`), only to a verified address.

A failed send is logged, never shown: the answer must not depend on what happened to the mail, and the
user can ask for a new link once signed in."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from typing import Protocol

from shared import clock, ids
from shared.adapters.mail import Mail, Mailer
from shared.auth import emails
from shared.auth.errors import EmailAlreadyVerified, EmailTaken, InvalidToken, InvalidVerificationToken
from shared.auth.limits import AuthLimits
from shared.auth.passwords import Passwords, check_password_policy, normalise_email
from shared.auth.repository import UserRepository
from shared.auth.schemas import Account, EmailVerified, SignUpAccepted, UserRecord, VerificationSent
from shared.auth.verification import VerifyTokens
from shared.settings import Settings

log = logging.getLogger(__name__)

NOTICE_UNVERIFIED = (
    "Verify your email address to get your welcome credits: open the link we sent you, or ask for a new "
    "one (POST /v1/auth/verify-email/resend)."
)


class CreditGrants(Protocol):
    """The part of the credits ledger that sign-up needs."""

    async def grant(self, wallet_id: str, amount: int, external_id: str, kind: str = "grant") -> bool: ...


class Welcome:
    def __init__(self, ledger: CreditGrants, users: UserRepository, amount: int) -> None:
        self._ledger = ledger
        self._users = users
        self._amount = amount

    async def grant(self, user: UserRecord) -> None:
        """Grant the welcome credits once, to a verified address. Retried at later sign-ins if it failed:
        the grant is idempotent (`welcome:{user_id}`)."""
        if user.welcome_granted or not user.email_verified or self._amount <= 0:
            return
        try:
            await self._ledger.grant(user.id, self._amount, f"welcome:{user.id}")
            await self._users.mark_welcome_granted(user.id)
        except Exception:
            log.exception(
                "welcome credits not granted; retried at the next sign-in", extra={"user_id": user.id}
            )


class SignUp:
    def __init__(
        self,
        users: UserRepository,
        passwords: Passwords,
        limits: AuthLimits,
        tokens: VerifyTokens,
        mailer: Mailer,
        welcome: Welcome,
        settings: Settings,
    ) -> None:
        self._users = users
        self._passwords = passwords
        self._limits = limits
        self._tokens = tokens
        self._mailer = mailer
        self._welcome = welcome
        self._settings = settings

    async def register(self, email: str, password: str, client_ip: str) -> SignUpAccepted:
        email = normalise_email(email)
        check_password_policy(password)
        await self._limits.sign_up(client_ip)
        started = time.monotonic()
        try:
            return await self._register(email, password)
        finally:
            # The same time for every answer: hashing, the email sent (or not), all under one floor.
            floor = self._settings.signup_min_response_s
            await asyncio.sleep(max(0.0, floor - (time.monotonic() - started)))

    async def _register(self, email: str, password: str) -> SignUpAccepted:
        password_hash = await self._passwords.hash(password)  # for a known address too: the same time
        verified = self._settings.auth_auto_verify_email
        try:
            user = await self._users.create(
                ids.new_id(),
                email,
                password_hash,
                clock.now(),
                self._settings.default_plan,
                email_verified=verified,
            )
        except EmailTaken:
            if await self._limits.tell_owner(email):
                log.info("registration for an address that has an account: owner told")
                await self._send(emails.account_exists(email))
            return SignUpAccepted()
        log.info("user registered", extra={"user_id": user.id, "email_verified": verified})
        if verified:
            await self._welcome.grant(user)
        else:
            await self._send_link(user)
        return SignUpAccepted()

    async def verify(self, token: str) -> EmailVerified:
        claims = self._tokens.verify(token)
        user = await self._users.get(claims.user_id)
        if user is None or user.email != claims.email:
            raise InvalidVerificationToken()
        already = user.email_verified
        if not already:
            await self._users.mark_email_verified(user.id, clock.now())
            log.info("email verified", extra={"user_id": user.id})
        await self._welcome.grant(dataclasses.replace(user, email_verified=True))
        if already:
            return EmailVerified(
                status="already_verified", message="Your email address was already verified."
            )
        return EmailVerified(
            status="verified",
            message="Your email address is verified and your welcome credits are in your account.",
        )

    async def resend(self, user_id: str) -> VerificationSent:
        user = await self._user(user_id)
        if user.email_verified:
            raise EmailAlreadyVerified()
        await self._limits.resend(user_id)
        await self._send_link(user)
        return VerificationSent()

    async def account(self, user_id: str) -> Account:
        user = await self._user(user_id)
        unverified = not user.email_verified and not user.welcome_granted
        return Account(
            id=user.id,
            email=user.email,
            email_verified=user.email_verified,
            welcome_credits_granted=user.welcome_granted,
            notice=NOTICE_UNVERIFIED if unverified else None,
        )

    async def _user(self, user_id: str) -> UserRecord:
        user = await self._users.get(user_id)
        if user is None:
            raise InvalidToken("The account of this token no longer exists; sign in again.")
        return user

    async def _send_link(self, user: UserRecord) -> None:
        token = self._tokens.issue(user.id, user.email, clock.now())
        # The console's page (run_services/api/console.py serves it under /app) posts the token to
        # GET /v1/auth/verify-email and says what happened; the token rides in the fragment, which the
        # browser never sends, so it is in no access log.
        link = f"{self._settings.public_api_url.rstrip('/')}/app/#/verify/{token}"
        await self._send(emails.verification(user.email, link, self._settings.email_verify_ttl_s))

    async def _send(self, mail: Mail) -> None:
        try:
            await self._mailer.send(mail)
        except Exception:
            log.exception("email not sent", extra={"mail_subject": mail.subject})
