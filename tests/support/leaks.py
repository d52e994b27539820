"""No prompt, output, file text, email address or secret in any log line (issue 16, item 2).

A pytest plugin (tests/conftest.py loads it): every structured log line the whole session printed (the
JSON lines of shared/logs.py, captured by pytest for each test's setup, call and teardown, whichever
in-process server thread wrote them) is scanned for
- an email address (every test account has one, so a log line naming a user's address is caught by the
  ordinary tests, not only by a seeded one);
- one of our API keys (`sk-` and a secret) or a bearer token;
- the canaries of tests/integration/test_no_leaks.py: a prompt, a card number, a national id and a
  secret sent through every door, which must reach the provider and the answer but never a log.

A leak fails the session (exit status 1) and the summary shows each leaking line's logger and message
(never the rest of the line, which is the leak).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pytest

# Unique strings nothing but the canary tests sends.
CANARY_PROMPT = "zebra-canary-prompt quartz lantern 7f3a"
CANARY_CARD = "4111 1111 1111 1111"
CANARY_NID = "1987654321098"  # a 13-digit Bangladesh NID shape
CANARY_SECRET = "ghp_canary0123456789abcdefABCDEF0123456789"
CANARY_EMAIL = "canary.person.7f3a@example.org"
CANARIES = (CANARY_PROMPT, CANARY_CARD, CANARY_NID, CANARY_SECRET, CANARY_EMAIL)

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
API_KEY = re.compile(r"\bsk-[A-Za-z0-9_-]{24,}")
BEARER = re.compile(r"(?i)bearer\s+[A-Za-z0-9._-]{20,}")
# Addresses that are not anybody's: the service accounts and signers of the local stack.
NOT_PERSONAL = re.compile(r"@[a-z0-9-]+\.iam\.gserviceaccount\.com$")


def leaks_in(line: str) -> list[str]:
    """What in one JSON log line must not be there (names of the rules broken)."""
    found = [f"canary {i}" for i, canary in enumerate(CANARIES) if canary in line]
    if any(not NOT_PERSONAL.search(m.group(0)) for m in EMAIL.finditer(line)):
        found.append("email address")
    if API_KEY.search(line):
        found.append("api key")
    if BEARER.search(line):
        found.append("bearer token")
    return found


def redact(text: str) -> str:
    for canary in CANARIES:
        text = text.replace(canary, "<canary>")
    for rule in (EMAIL, API_KEY, BEARER):
        text = rule.sub("<leak>", text)
    return text


def json_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith('{"severity"')]


@dataclass
class LeakScan:
    lines: int = 0
    leaks: list[tuple[str, str, str, list[str]]] = field(default_factory=list)  # test, logger, message, rules

    def scan(self, test: str, text: str) -> None:
        for line in json_lines(text):
            self.lines += 1
            rules = leaks_in(line)
            if rules:
                try:
                    record = json.loads(line)
                except ValueError:
                    record = {}
                message = redact(str(record.get("message")))[:80]
                self.leaks.append((test, str(record.get("logger")), message, rules))


SCAN = LeakScan()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for name, text in report.sections:
        # A report carries the sections of the phases before it too: each is scanned once, in its own.
        if name in (f"Captured stdout {report.when}", f"Captured stderr {report.when}"):
            SCAN.scan(report.nodeid, text)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if SCAN.leaks and exitstatus == 0:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    reporter = terminalreporter
    if not SCAN.leaks:
        reporter.write_line(f"log scan: {SCAN.lines} log lines, no prompt, email or secret in any")
        return
    reporter.write_sep("=", f"log scan: {len(SCAN.leaks)} log lines leak (of {SCAN.lines})", red=True)
    for test, logger, message, rules in SCAN.leaks[:50]:
        reporter.write_line(f"{', '.join(rules)}: logger {logger} '{message}' in {test}")
