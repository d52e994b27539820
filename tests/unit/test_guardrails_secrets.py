"""API keys and secrets: the providers' published prefixes, PEM keys, JWTs and high-entropy tokens."""

from __future__ import annotations

import pytest

from shared.guardrails.secrets import find_secrets, shannon_entropy

# Shapes from the providers' documentation, with made-up bodies (AWS's own documented example key id).
KEYS = [
    "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb3dEf6h",
    "sk-ant-api03-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb3dEf6hIj9kLm2nOp5qRs8tUv1w-AbCdEf",
    "sk-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z",
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb3d",
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd",
    "xoxb-123456789012-1234567890123-Ab3dEf6hIj9kLm2nOp5qRs8t",
    "xoxp-123456789012-123456789012-123456789012-0123456789abcdef0123456789abcdef",
    "AIzaSyA-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4",
    "sk_live_51Ab3dEf6hIj9kLm2nOp5qRs8t",
    "rk_test_51Ab3dEf6hIj9kLm2nOp5qRs8t",
    # jwt.io's example token.
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
]


def spans(text: str) -> list[str]:
    return [text[f.start : f.end] for f in find_secrets(text)]


@pytest.mark.parametrize("key", KEYS)
def test_known_key_formats(key: str) -> None:
    assert key in spans(f"use {key} for the call")


def test_pem_private_key_block_is_one_finding() -> None:
    body = (
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\nVJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3S\n"
    )
    pem = f"-----BEGIN RSA PRIVATE KEY-----\n{body}-----END RSA PRIVATE KEY-----"
    found = list(find_secrets(f"here:\n{pem}\nthanks"))
    whole = [f for f in found if f.priority == 50]
    assert len(whole) == 1 and whole[0].end - whole[0].start == len(pem)
    assert spans("-----BEGIN OPENSSH PRIVATE KEY-----") == ["-----BEGIN OPENSSH PRIVATE KEY-----"]
    assert spans("-----BEGIN PUBLIC KEY-----") == []


def test_high_entropy_tokens() -> None:
    token = "a8Fk29LmQz7Xp3RtYw6NvB1cDe"
    assert spans(f"token={token}") == [token]
    assert shannon_entropy(token) > 4.0


@pytest.mark.parametrize(
    "text",
    [
        "the commit e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # hex digest
        "request 550E8400-E29B-41D4-A716-446655440000",  # UUID
        "id 550e8400-e29b-41d4-a716-446655440000",
        "AbstractSingletonProxyFactoryBeanImpl is a class",  # no digits
        "/usr/local/lib/python3.11/site-packages/Django",  # a path
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaA1",  # long but not random
        "Supercalifragilisticexpialidocious2024 Edition",
        "the risk-free rate, skip-the-line tickets",
        "short sk-123",
    ],
)
def test_not_secrets(text: str) -> None:
    assert spans(text) == []


def test_thresholds_are_tunable() -> None:
    token = "a8Fk29LmQz7Xp3Rt"  # 16 characters
    assert list(find_secrets(token)) == []  # shorter than the default 24
    assert [f.kind for f in find_secrets(token, min_length=16, threshold=3.5)] == ["secret"]
    assert list(find_secrets("a8Fk29LmQz7Xp3RtYw6NvB1cDe", threshold=5.5)) == []


@pytest.mark.parametrize(
    "identifier",
    ["_PROXY_DynamicRateLimitHandlerV3", "A2ACompletionBridgeTransformation", "getUserById2FactorAuth"],
)
def test_identifiers_are_not_secrets(identifier: str) -> None:
    assert spans(f"class {identifier}:") == []
