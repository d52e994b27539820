"""The web console (console/, issue 17): its build and the browser its tests drive.

`build()` runs `npm ci` (the pinned package-lock.json) when console/node_modules is missing or older than
the lockfile, then `npm run build` (type check, then Vite) into console/dist, which the API serves under
/app. `build(only_if_stale=True)` is what `make run` does: it builds when console/dist is missing or older
than a source, and otherwise reuses it.

`browser()` is Debian's Chromium at /usr/bin/chromium (CHROMIUM_PATH overrides), installed with apt-get
when it is missing and we may (root with apt-get); Playwright never downloads a browser of its own.

`python -m scripts.console build|check|browser|prepare` runs them from a shell (check: the type check and
Prettier's, then the build; prepare: check and browser).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONSOLE = ROOT / "console"
DIST = CONSOLE / "dist"
CHROMIUM = "/usr/bin/chromium"
# The flags of a headless Chromium that phones nobody and needs no GPU or user namespaces.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class ConsoleBuildError(RuntimeError):
    pass


def _npm(*args: str) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise ConsoleBuildError("npm was not found: install Node.js 20.19+ (with npm) to build the console.")
    done = subprocess.run([npm, *args], cwd=CONSOLE, check=False)
    if done.returncode != 0:
        raise ConsoleBuildError(f"`npm {' '.join(args)}` failed in console/ (exit {done.returncode}).")


def stale() -> bool:
    """console/dist is missing, or a source (or the lockfile) changed after it was built."""
    built = DIST / "index.html"
    if not built.is_file():
        return True
    sources = [
        *CONSOLE.glob("src/**/*"),
        *(CONSOLE / n for n in ("index.html", "package-lock.json", "vite.config.ts")),
    ]
    return any(p.is_file() and p.stat().st_mtime > built.stat().st_mtime for p in sources)


def build(only_if_stale: bool = False, check: bool = False) -> Path:
    """console/dist, built from the sources (or left as it is, with only_if_stale, when it is current);
    with `check`, the sources are type-checked and their Prettier formatting checked first."""
    if only_if_stale and not stale():
        return DIST
    installed = CONSOLE / "node_modules" / ".package-lock.json"
    lock = CONSOLE / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        print("  console: npm ci (the pinned package-lock.json)…", flush=True)
        _npm("ci", "--no-audit", "--no-fund")
    if check:
        print("  console: npm run check (tsc, prettier)…", flush=True)
        _npm("run", "check", "--silent")
    print("  console: npm run build…", flush=True)
    _npm("run", "build", "--silent")
    return DIST


def browser(install: bool = True) -> str | None:
    """The Chromium executable, installed from Debian's packages first if missing and allowed; None when
    there is none and it cannot be installed here."""
    path = os.environ.get("CHROMIUM_PATH", CHROMIUM)
    if Path(path).is_file():
        return path
    apt = shutil.which("apt-get")
    if not install or apt is None or os.geteuid() != 0:
        return None
    print("  console: installing Debian's chromium for the browser tests (apt-get, once)…", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run([apt, "install", "-y", "--no-install-recommends", "chromium"], env=env).returncode:
        subprocess.run([apt, "update"], env=env, check=False)
        subprocess.run([apt, "install", "-y", "--no-install-recommends", "chromium"], env=env, check=False)
    return path if Path(path).is_file() else None


def main() -> int:
    what = sys.argv[1] if len(sys.argv) > 1 else "prepare"
    try:
        if what in ("build", "check", "prepare"):
            dist = build(check=what != "build")
            print(f"console built in {dist.relative_to(ROOT)}", flush=True)
        if what in ("browser", "prepare"):
            found = browser()
            print(f"browser: {found or 'none (the console browser tests will skip)'}", flush=True)
    except ConsoleBuildError as exc:
        print(exc, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
