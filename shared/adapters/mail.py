"""Outgoing email behind one small interface: `Mailer.send(Mail)`.

`SmtpMailer` speaks SMTP with the standard library (smtplib, in a worker thread so the event loop never
waits on the network): STARTTLS (port 587), implicit TLS (465) or plain (a local mail catcher). The
password comes from settings or the secret source (SMTP_PASSWORD), as other secrets do. `LogMailer` only
logs that a message would have been sent: for local runs and tests without a mail server (never in
production, where build_mailer refuses to start without SMTP_HOST)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Protocol

from shared.adapters.secrets import SecretSource
from shared.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None:
        """Deliver to the mail server; raises on failure (the caller decides what a failure means)."""
        ...


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: str  # starttls, ssl or none
    user: str | None
    password: str | None
    sender: str
    timeout_s: float


class SmtpMailer:
    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    async def send(self, mail: Mail) -> None:
        await asyncio.to_thread(self._send, self._message(mail))

    def _message(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._config.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Message-ID"] = make_msgid(domain="ai-backend")
        message.set_content(mail.text)
        return message

    def _send(self, message: EmailMessage) -> None:
        c = self._config
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if c.security == "ssl":
            smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout_s, context=context)
        else:
            smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout_s)
        with smtp:
            if c.security == "starttls":
                smtp.starttls(context=context)
            if c.user and c.password:
                smtp.login(c.user, c.password)
            smtp.send_message(message)


class LogMailer:
    """No mail server configured (local runs only): say so in the log, without the message's body (it
    may carry a verification link)."""

    async def send(self, mail: Mail) -> None:
        log.warning(
            "no SMTP_HOST configured: email not sent",
            extra={"mail_subject": mail.subject, "mail_to_domain": mail.to.rpartition("@")[2]},
        )


def build_mailer(settings: Settings, secrets: SecretSource) -> Mailer:
    if not settings.smtp_host:
        if settings.environment == "production":
            raise RuntimeError(
                "SMTP_HOST must be set in production: sign-up sends verification emails "
                "(see the README, 'Email')."
            )
        return LogMailer()
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return SmtpMailer(
        SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            user=settings.smtp_user,
            password=password or secrets.get("SMTP_PASSWORD"),
            sender=settings.mail_from,
            timeout_s=settings.smtp_timeout_s,
        )
    )
