"""The texts of the emails sign-up sends. Plain text: a link is a link in every client."""

from __future__ import annotations

from shared.adapters.mail import Mail


def verification(to: str, link: str, ttl_s: int) -> Mail:
    hours = max(1, ttl_s // 3600)
    return Mail(
        to=to,
        subject="Verify your email address",
        text=(
            "Welcome!\n\n"
            "Open this link to verify your email address and receive your welcome credits:\n\n"
            f"{link}\n\n"
            f"The link is valid for {hours} hours. If you did not create an account, ignore this email: "
            "nothing happens without the link.\n"
        ),
    )


def account_exists(to: str) -> Mail:
    return Mail(
        to=to,
        subject="Someone tried to create an account with your email address",
        text=(
            "Someone (perhaps you) tried to create a new account with this email address, which already "
            "has one. No new account was created.\n\n"
            "If it was you, sign in with your password instead. If it was not, you can ignore this email: "
            "your account is unchanged.\n"
        ),
    )
