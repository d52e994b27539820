"""Settings of sign-up email (issue 11, item 1): the shortcuts local runs and tests may take are refused
in production, at startup."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from shared.adapters.mail import LogMailer, SmtpMailer, build_mailer
from shared.adapters.secrets import EnvSecrets
from shared.settings import Settings


def test_auto_verify_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="AUTH_AUTO_VERIFY_EMAIL"):
        Settings(environment="production", auth_auto_verify_email=True)
    assert Settings(environment="test", auth_auto_verify_email=True).auth_auto_verify_email
    assert Settings(environment="production").auth_auto_verify_email is False


def test_production_needs_an_smtp_host() -> None:
    with pytest.raises(RuntimeError, match="SMTP_HOST"):
        build_mailer(Settings(environment="production", smtp_host=None), EnvSecrets({}))
    assert isinstance(build_mailer(Settings(environment="local", smtp_host=None), EnvSecrets({})), LogMailer)


def test_the_smtp_password_comes_from_settings_or_the_secret_source() -> None:
    from_secrets = build_mailer(
        Settings(smtp_host="smtp.example.com", smtp_user="u"), EnvSecrets({"SMTP_PASSWORD": "from-store"})
    )
    assert isinstance(from_secrets, SmtpMailer)
    assert from_secrets._config.password == "from-store"
    from_settings = build_mailer(
        Settings(smtp_host="smtp.example.com", smtp_password=SecretStr("set")),
        EnvSecrets({"SMTP_PASSWORD": "from-store"}),
    )
    assert isinstance(from_settings, SmtpMailer)
    assert from_settings._config.password == "set"
