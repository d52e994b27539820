"""Start and stop the local stack: the Firestore and Pub/Sub emulators, Redis, the local model, the API
and the functions.

`python -m scripts.devstack run`   everything on 127.0.0.1 until Ctrl-C (what `make run` calls), and a
                                   mail catcher whose page lists the emails the API sends
`python -m scripts.devstack test`  the backing services on free ports, then ruff, mypy and pytest
`python -m scripts.devstack bench` the backing services, then the benchmarks
`python -m scripts.devstack sim`   the Firestore emulator, then the money simulator (SIM_* settings)

Every child runs in its own process group and is stopped with it, so nothing outlives us.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from scripts import console
from scripts.emulators import start_jobs_worker, start_storage, start_tasks
from scripts.stack import PY, ROOT, Stack, free_port, http_ok, port_open

STATE = ROOT / ".local"
PUBSUB_EMULATORS = [
    "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator",
    "/usr/share/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator",
]
FIRESTORE_JARS = [
    "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar",
    "/usr/share/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar",
]


def find_emulator(env_var: str, known: list[str], in_sdk: str, install: str) -> str:
    """The emulator's file: from `env_var`, the Debian packages' places, or beside `gcloud` in its SDK."""
    candidates = [os.environ.get(env_var, ""), *known]
    gcloud = shutil.which("gcloud")
    if gcloud:
        candidates.append(str(Path(gcloud).resolve().parent.parent / in_sdk))
    for path in candidates:
        if path and Path(path).is_file():
            return path
    raise SystemExit(f"{install}, or set {env_var}.")


def need_java(emulator: str) -> None:
    if not shutil.which("java"):
        raise SystemExit(
            f"Java 17+ is needed for the {emulator} emulator: install a JRE (e.g. openjdk-17-jre)."
        )


def start_firestore(stack: Stack) -> None:
    need_java("Firestore")
    jar = find_emulator(
        "FIRESTORE_EMULATOR_JAR",
        FIRESTORE_JARS,
        "platform/cloud-firestore-emulator/cloud-firestore-emulator.jar",
        "Google's Firestore emulator was not found. Install it with "
        "`gcloud components install cloud-firestore-emulator` (or the Debian package "
        "google-cloud-cli-firestore-emulator) and Java 17+",
    )

    def cmd(port: int) -> list[str]:
        return [
            "java",
            "-Duser.language=en",
            "-cp",
            jar,
            "com.google.cloud.datastore.emulator.firestore.CloudFirestore",
            "start",
            "--host=127.0.0.1",
            f"--port={port}",
        ]

    port = stack.start_on_free_port("firestore", cmd, lambda p: http_ok(f"http://127.0.0.1:{p}/"), timeout=60)
    stack.env["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{port}"


def start_pubsub(stack: Stack) -> None:
    need_java("Pub/Sub")
    emulator = find_emulator(
        "PUBSUB_EMULATOR_BIN",
        PUBSUB_EMULATORS,
        "platform/pubsub-emulator/bin/cloud-pubsub-emulator",
        "Google's Pub/Sub emulator was not found. Install it with "
        "`gcloud components install pubsub-emulator` (or the Debian package "
        "google-cloud-cli-pubsub-emulator) and Java 17+",
    )
    port = stack.start_on_free_port(
        "pubsub",
        lambda p: [emulator, "--host=127.0.0.1", f"--port={p}"],
        lambda p: http_ok(f"http://127.0.0.1:{p}/"),
        timeout=30,  # ready in ~2 s; one that lost its port hangs instead of exiting
    )
    stack.env["PUBSUB_EMULATOR_HOST"] = f"127.0.0.1:{port}"


def start_redis(stack: Stack) -> None:
    server = shutil.which("redis-server")
    if not server:
        print(
            "redis-server not found: using the embedded fakeredis server instead (install Redis for "
            "the real thing).",
            flush=True,
        )

    def cmd(port: int) -> list[str]:
        if server:
            return [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
        return [PY, "-m", "scripts.fake_redis", "--port", str(port)]

    port = stack.start_on_free_port("redis", cmd, port_open, timeout=30)
    stack.env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"


def start_mail(stack: Stack) -> None:
    """The mail catcher (scripts/mail_catcher.py): the API sends its emails there (SMTP_HOST/SMTP_PORT),
    and its page at MAIL_CATCHER_URL lists them with their links."""
    smtp_port, http_port = free_port(), free_port()
    cmd = [PY, "-m", "scripts.mail_catcher", "--smtp-port", str(smtp_port), "--http-port", str(http_port)]
    url = f"http://127.0.0.1:{http_port}"
    stack.start("mail", cmd, lambda: http_ok(f"{url}/messages") and port_open(smtp_port), timeout=30)
    stack.env.update(
        SMTP_HOST="127.0.0.1", SMTP_PORT=str(smtp_port), SMTP_SECURITY="none", MAIL_CATCHER_URL=url
    )


def start_model(stack: Stack) -> None:
    port = free_port()
    cmd = [PY, "-m", "scripts.local_model", "--port", str(port)]
    stack.start("model", cmd, lambda: http_ok(f"http://127.0.0.1:{port}/health"), timeout=120)
    stack.env["LOCAL_MODEL_URL"] = f"http://127.0.0.1:{port}/v1"


def start_embedding_model(stack: Stack) -> None:
    """all-MiniLM-L6-v2 under llama.cpp (scripts/local_embedding_model.py): the default embedding model."""
    port = free_port()
    cmd = [PY, "-m", "scripts.local_embedding_model", "--port", str(port)]
    stack.start("embedding", cmd, lambda: http_ok(f"http://127.0.0.1:{port}/health"), timeout=120)
    stack.env["LOCAL_EMBEDDING_URL"] = f"http://127.0.0.1:{port}/v1"


def backing_services(stack: Stack, model: bool = True) -> None:
    stack.env.setdefault("GOOGLE_CLOUD_PROJECT", "demo-local")
    stack.env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    jobs = (start_tasks, start_storage, start_jobs_worker)  # scripts/emulators.py
    services = (start_firestore, start_pubsub, start_redis, start_mail)
    models = (start_model, start_embedding_model) if model else ()
    for start in (*services, *models, *jobs):
        t0 = time.monotonic()
        start(stack)
        print(
            f"  {start.__name__.removeprefix('start_'):<10} ready in {time.monotonic() - t0:4.1f}s",
            flush=True,
        )


def run_stack(stack: Stack) -> int:
    api_port = int(os.environ.get("API_PORT", "8080"))
    fn_port = int(os.environ.get("RECONCILER_PORT", "8091"))
    pay_port = int(os.environ.get("PAYMENTS_PORT", "8093"))  # Stripe CLI: stripe listen --forward-to it
    for port in (api_port, fn_port, pay_port):
        if port_open(port):
            raise SystemExit(f"port {port} is taken: stop what uses it or set API_PORT / RECONCILER_PORT.")
    print("Starting the local stack (logs in .local/logs):", flush=True)
    console_ready = build_console_once()
    backing_services(stack)
    stack.env.setdefault("ENVIRONMENT", "local")
    stack.env.setdefault("TRACE_EXPORTER", "console")  # one line per span on stderr
    stack.env.setdefault("METRICS_EXPORTER", "prometheus")  # GET /internal/metrics with METRICS_TOKEN
    stack.env.setdefault("METRICS_TOKEN", secrets.token_urlsafe(18))
    stack.env.setdefault("JWT_SECRET", local_jwt_secret())
    stack.env.setdefault("PUBLIC_API_URL", f"http://127.0.0.1:{api_port}")  # the links in emails
    stack.start(
        "reconciler",
        [
            PY,
            "-m",
            "functions_framework",
            "--source",
            "functions/reconciler/main.py",
            "--target",
            "reconcile",
            "--host",
            "127.0.0.1",
            "--port",
            str(fn_port),
        ],
        lambda: port_open(fn_port),
        timeout=60,
    )
    payments = ["--source", "functions/payments/main.py", "--target", "payments", "--port", str(pay_port)]
    cmd = [PY, "-m", "functions_framework", *payments, "--host", "127.0.0.1"]
    stack.start("payments", cmd, lambda: port_open(pay_port), timeout=60)
    stack.start(
        "api",
        [
            PY,
            "-m",
            "uvicorn",
            "run_services.api.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(api_port),
            "--no-access-log",
        ],
        lambda: http_ok(f"http://127.0.0.1:{api_port}/healthz"),
        timeout=90,
        to_terminal=True,
    )
    scheduler = threading.Thread(target=schedule_reconciler, args=(fn_port,), daemon=True)
    scheduler.start()
    print(
        f"""
The API is at http://127.0.0.1:{api_port}  (OpenAPI docs: http://127.0.0.1:{api_port}/docs)
{console_line(console_ready, api_port)}
  Firestore emulator  {stack.env["FIRESTORE_EMULATOR_HOST"]}
  Pub/Sub emulator    {stack.env["PUBSUB_EMULATOR_HOST"]}
  Redis               {stack.env["REDIS_URL"]}
  Local model         {stack.env["LOCAL_MODEL_URL"]}
  Local embeddings    {stack.env["LOCAL_EMBEDDING_URL"]}  (all-MiniLM-L6-v2)
  Mail catcher        {stack.env["MAIL_CATCHER_URL"]}  (every email the API sends, with its links)
  Reconciler function http://127.0.0.1:{fn_port}/  (called every 60 s, as Cloud Scheduler would)
  Payments function   http://127.0.0.1:{pay_port}/stripe  and  /sslcommerz/ipn
  Jobs worker         {stack.env["JOBS_WORKER_URL"]}  (Cloud Tasks {stack.env["TASKS_EMULATOR_HOST"]}, \
Storage {stack.env["STORAGE_EMULATOR_HOST"]})
  Metrics             curl -H 'Authorization: Bearer {stack.env["METRICS_TOKEN"]}' \
http://127.0.0.1:{api_port}/internal/metrics   (traces: one JSON line per span on stderr)
Try:  curl -s -X POST http://127.0.0.1:{api_port}/v1/auth/register -H 'content-type: application/json' \\
        -d '{{"email":"me@example.com","password":"correct horse battery"}}'
      then open the link in the mail catcher ({stack.env["MAIL_CATCHER_URL"]}) to verify the address
      (and get the welcome credits), and sign in: the same request to /v1/auth/login -> access_token
Press Ctrl-C to stop everything.""",
        flush=True,
    )
    while all(proc.poll() is None for _, proc in stack.procs):
        time.sleep(0.5)
    dead = [name for name, proc in stack.procs if proc.poll() is not None]
    print(f"stopped: {', '.join(dead)} exited", flush=True)
    return 1


def build_console_once() -> bool:
    """The web console (console/, served under /app): built on the first run, reused after."""
    try:
        console.build(only_if_stale=True)
        return True
    except console.ConsoleBuildError as exc:
        print(f"  console    not built: {exc}", flush=True)
        return False


def console_line(ready: bool, api_port: int) -> str:
    if not ready:
        return "  (the web console was not built: see above; `make run` tries again)"
    return (
        f"Open the web console: http://127.0.0.1:{api_port}/app/  (sign up, verify the address from the "
        "mail catcher, chat with the local model)"
    )


def schedule_reconciler(port: int) -> None:
    while True:
        time.sleep(60)
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/",
            data=b"{}",
            method="POST",
            headers={"content-type": "application/json"},
        )
        try:
            urllib.request.urlopen(req, timeout=30).close()
        except Exception as exc:
            print(f"reconciler call failed: {exc}", flush=True)


def local_jwt_secret() -> str:
    """A per-checkout signing secret for local runs, generated once and never committed."""
    path = STATE / "jwt_secret"
    if not path.exists():
        import secrets

        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def run_checks(stack: Stack, pytest_args: list[str]) -> int:
    print("Starting the test services:", flush=True)
    backing_services(stack)
    env = {**os.environ, **stack.env, "ENVIRONMENT": "test"}
    for name, cmd in (
        ("ruff", [PY, "-m", "ruff", "check", "."]),
        ("ruff format", [PY, "-m", "ruff", "format", "--check", "."]),
        ("mypy", [PY, "-m", "mypy", "shared", "run_services", "functions", "scripts"]),
    ):
        print(f"== {name}", flush=True)
        if subprocess.call(cmd, cwd=ROOT, env=env) != 0:
            print(f"{name} failed: fix the findings above (ruff: `make fmt` fixes formatting).", flush=True)
            return 1
    # checkov (tests/infra/test_checkov.py) has its own venv: install it here, outside any test timeout.
    from scripts.infra_tools import checkov_bin

    try:
        checkov_bin()
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"Could not prepare .local/checkov-venv (needs PyPI once): {exc}", flush=True)
        return 1
    # The web console's browser tests (tests/console/) need its build and Debian's Chromium.
    print("== console build", flush=True)
    try:
        console.build(check=True)
    except console.ConsoleBuildError as exc:
        print(f"console build failed: {exc} (`cd console && npm run format` fixes formatting)", flush=True)
        return 1
    if console.browser() is None:
        print("No Chromium could be installed here: the console's browser tests will skip.", flush=True)
    print("== pytest", flush=True)
    code = subprocess.call([PY, "-m", "pytest", *pytest_args], cwd=ROOT, env=env)
    if code == 5:
        print("pytest collected no tests: that is a failure, not a pass.", flush=True)
        return 1
    return code


def run_bench(stack: Stack, args: list[str]) -> int:
    print("Starting the benchmark services:", flush=True)
    backing_services(stack, model=False)
    env = {**os.environ, **stack.env, "ENVIRONMENT": "test"}
    return subprocess.call([PY, "-m", "bench.chat_overhead", *args], cwd=ROOT, env=env)


def run_sim(stack: Stack) -> int:
    print("Starting the Firestore emulator for the simulator:", flush=True)
    start_firestore(stack)
    stack.env.setdefault("GOOGLE_CLOUD_PROJECT", "demo-sim")
    env = {**os.environ, **stack.env, "ENVIRONMENT": "test"}
    return subprocess.call([PY, "-m", "tests.sim"], cwd=ROOT, env=env)


def run_exec(stack: Stack, cmd: list[str]) -> int:
    """Run any command with the backing services up (handy for one test file: `exec -- pytest -x tests/x`)."""
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    backing_services(stack, model=os.environ.get("WITH_MODEL", "1") == "1")
    env = {**os.environ, **stack.env, "ENVIRONMENT": "test"}
    if cmd and cmd[0] in ("pytest", "ruff", "mypy"):
        cmd = [PY, "-m", *cmd]
    return subprocess.call(cmd, cwd=ROOT, env=env)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["run", "test", "bench", "sim", "exec"])
    parser.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    log_dir = STATE / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(log_dir=log_dir)

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    # Installed explicitly: a shell that starts us in the background leaves SIGINT ignored.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    code = 1
    try:
        if args.mode == "run":
            code = run_stack(stack)
        elif args.mode == "test":
            code = run_checks(stack, args.rest)
        elif args.mode == "bench":
            code = run_bench(stack, args.rest)
        elif args.mode == "sim":
            code = run_sim(stack)
        else:
            code = run_exec(stack, args.rest)
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        code = 0 if args.mode == "run" else 130
    finally:
        stack.stop()
    sys.exit(code)


if __name__ == "__main__":
    main()
