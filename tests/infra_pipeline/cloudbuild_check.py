"""Reads a Cloud Build config and lists every repository path, make target and image it names that does
not exist or is not produced in time, as plain sentences (an empty list means the file is sound).

What counts as existing:
- paths (Dockerfiles, build contexts, `python -m` modules of this repository) are files in the repository;
  function sources `build/functions/<name>` must be written by an earlier step running
  scripts.package_functions, for a function that script knows, with its entry point;
- `make` targets are rules of the Makefile;
- an image a step runs, pushes or deploys is built (and, for deploys, pushed) by a step it waits on, or
  it is a public builder image pinned by tag or digest, never `:latest` or untagged;
- every `$NAME` / `${NAME}` is a built-in substitution or one the file defines.
The Dockerfile it builds is read too: its base images must be pinned by digest and its COPY sources exist.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scripts.package_functions import FUNCTIONS

BUILTINS = {
    "PROJECT_ID": "demo-project",
    "PROJECT_NUMBER": "123456789",
    "BUILD_ID": "build-1",
    "LOCATION": "global",
    "COMMIT_SHA": "abc1234def5678",
    "SHORT_SHA": "abc1234",
    "REVISION_ID": "abc1234def5678",
    "BRANCH_NAME": "main",
    "TAG_NAME": "",
    "REPO_NAME": "ai-backend",
    "TRIGGER_NAME": "deploy",
}
SUBSTITUTION = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
SEPARATOR = re.compile(r"^[;&|()<>\n]+$")
ASSIGNMENT = re.compile(r"^\w+=")
MAKE_RULE = re.compile(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", re.MULTILINE)
DEFAULT_ENTRYPOINTS = {"gcr.io/cloud-builders/docker": "docker", "gcr.io/cloud-builders/gcloud": "gcloud"}
FUNCTION_BY_NAME = {f.name: f for f in FUNCTIONS}


@dataclass
class Step:
    id: str
    image: str
    commands: list[list[str]]
    after: set[str] = field(default_factory=set)  # ids of every step this one waits on, transitively


@dataclass
class Produced:
    built: dict[str, str] = field(default_factory=dict)  # image -> step id
    pushed: dict[str, str] = field(default_factory=dict)
    packaged: dict[str, str] = field(default_factory=dict)  # source directory or zip -> step id
    dockerfiles: list[str] = field(default_factory=list)
    docker_after: dict[str, set[str]] = field(default_factory=dict)  # Dockerfile -> steps its build waits on


def substitute(text: str, values: dict[str, str], problems: list[str]) -> str:
    """Cloud Build's substitution: `$$` is a literal `$`, `$NAME`/`${NAME}` must be known."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            problems.append(f"unknown substitution ${name}")
            return ""
        return values[name]

    return "$".join(SUBSTITUTION.sub(one, part) for part in text.split("$$"))


def split_script(script: str) -> list[list[str]]:
    """Shell commands of a `bash -c` script, split on newlines, `;`, `&&`, `|` and `$( )`."""
    lexer = shlex.shlex(script.replace("\\\n", " "), posix=True, punctuation_chars=";&|()<>\n")
    lexer.whitespace = " \t\r"
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if SEPARATOR.match(token):
            commands.append([])
        elif commands[-1] or not ASSIGNMENT.match(token):
            commands[-1].append(token)
    return [c for c in commands if c]


def image_repository(image: str) -> str:
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return name.rsplit(":", 1)[0] if ":" in last else name


def is_pinned(image: str) -> bool:
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    return ":" in last and not last.endswith(":latest")


def load_steps(config: dict[str, Any], problems: list[str]) -> list[Step]:
    values = {**BUILTINS, **{k: str(v) for k, v in (config.get("substitutions") or {}).items()}}
    steps: list[Step] = []
    for index, raw in enumerate(config.get("steps") or []):
        step_id = str(raw.get("id", f"step-{index}"))
        image = substitute(str(raw["name"]), values, problems)
        args = [substitute(str(a), values, problems) for a in raw.get("args") or []]
        entrypoint = raw.get("entrypoint") or DEFAULT_ENTRYPOINTS.get(image_repository(image))
        if entrypoint is None:
            problems.append(f"step {step_id}: no entrypoint given and none known for {image}")
            commands: list[list[str]] = []
        elif entrypoint in ("bash", "sh") and args[:1] == ["-c"]:
            commands = split_script(args[1])
        else:
            commands = [[str(entrypoint), *args]]
        wait_for = raw.get("waitFor")
        if wait_for is None:
            direct = {s.id for s in steps}
        elif wait_for == ["-"]:
            direct = set()
        else:
            direct = {str(w) for w in wait_for}
            for missing in sorted(direct - {s.id for s in steps}):
                problems.append(f"step {step_id} waits for {missing}, which is not an earlier step")
        after = set(direct)
        for s in steps:
            if s.id in direct:
                after |= s.after
        steps.append(Step(step_id, image, commands, after))
    return steps


def flag(argv: list[str], *names: str) -> str | None:
    for i, arg in enumerate(argv):
        for name in names:
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
    return None


def positionals(argv: list[str]) -> list[str]:
    """Arguments that are neither flags nor flag values (flags here are written --name=value)."""
    return [a for a in argv if not a.startswith("-")]


def check_command(step: Step, argv: list[str], root: Path, made: Produced, problems: list[str]) -> None:
    where = f"step {step.id}"
    program = Path(argv[0]).name
    if program == "make":
        rules = set(MAKE_RULE.findall((root / "Makefile").read_text()))
        for target in positionals(argv[1:]):
            if "=" not in target and target not in rules:
                problems.append(f"{where}: make target {target!r} is not in the Makefile")
    elif program.startswith("python") and "-m" in argv:
        module = argv[argv.index("-m") + 1]
        top = module.split(".")[0]
        if (root / top).exists():
            relative = module.replace(".", "/")
            if not (root / f"{relative}.py").is_file() and not (root / relative / "__init__.py").is_file():
                problems.append(f"{where}: module {module} is not in the repository")
            elif module == "scripts.package_functions":
                rest = positionals(argv[argv.index("-m") + 2 :])
                if rest:
                    for function in FUNCTIONS:
                        made.packaged[f"{rest[0].rstrip('/')}/{function.name}"] = step.id
                        if "--zip" in argv:
                            made.packaged[f"{rest[0].rstrip('/')}/{function.name}.zip"] = step.id
    elif program == "docker" and argv[1:2] == ["build"]:
        dockerfile = flag(argv, "--file", "-f") or "Dockerfile"
        context = positionals(argv[2:])[-1:] or ["."]
        for path in (dockerfile, context[0]):
            if not (root / path).exists():
                problems.append(f"{where}: {path} does not exist")
        if (root / dockerfile).is_file():
            made.dockerfiles.append(dockerfile)
            made.docker_after[dockerfile] = step.after
        tag = flag(argv, "--tag", "-t")
        if tag:
            made.built[tag] = step.id
    elif program == "docker" and argv[1:2] == ["push"]:
        image = argv[2]
        if made.built.get(image) not in step.after:
            problems.append(f"{where}: pushes {image}, which no step it waits on builds")
        made.pushed[image] = step.id
    elif program == "gcloud" and argv[1:3] == ["storage", "cp"]:
        for source in positionals(argv[3:])[:-1]:
            if made.packaged.get(source) not in step.after and not (root / source).exists():
                problems.append(
                    f"{where}: copies {source}, which is neither in the repository nor made before"
                )
    elif program == "gcloud" and argv[1:3] == ["run", "deploy"]:
        image = flag(argv, "--image") or ""
        if made.pushed.get(image) not in step.after:
            problems.append(f"{where}: deploys {image!r}, which no step it waits on pushes")
    elif program == "gcloud" and argv[1:3] == ["functions", "deploy"]:
        name = argv[3]
        source = (flag(argv, "--source") or "").rstrip("/")
        known = FUNCTION_BY_NAME.get(name)
        if known is None:
            problems.append(f"{where}: function {name} is not one scripts/package_functions.py packages")
        elif flag(argv, "--entry-point") != known.entry_point:
            problems.append(f"{where}: {name} must use entry point {known.entry_point}")
        if made.packaged.get(source) not in step.after or not source.endswith(f"/{name}"):
            problems.append(f"{where}: source {source!r} is not packaged for {name} by a step it waits on")


# What a Dockerfile may COPY before it exists in the repository: the output of the step named, which the
# image's build must wait on (the web console, built by npm in `build-console`).
BUILT_BY_STEP = {"console/dist/": "build-console"}


def check_dockerfile(path: Path, root: Path, problems: list[str], after: set[str] | None = None) -> None:
    text = path.read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", text, re.MULTILINE))
    for base in re.findall(r"^FROM (\S+)", text, re.MULTILINE):
        resolved = SUBSTITUTION.sub(lambda m: args.get(m.group(1) or m.group(2), ""), base)
        if "@sha256:" not in resolved:
            problems.append(f"{path.name}: base image {resolved!r} is not pinned by digest")
    for line in re.findall(r"^COPY (?!--from)(.+)$", text, re.MULTILINE):
        for source in line.split()[:-1]:
            builder = BUILT_BY_STEP.get(source)
            if builder is not None and after is not None:
                if builder not in after:
                    problems.append(f"{path.name}: COPY {source} before step {builder} built it")
            elif not (root / source).exists():
                problems.append(f"{path.name}: COPY source {source} does not exist")


def problems(config: dict[str, Any], root: Path) -> list[str]:
    found: list[str] = []
    steps = load_steps(config, found)
    made = Produced()
    for step in steps:
        if made.built.get(step.image) not in step.after and not is_pinned(step.image):
            found.append(f"step {step.id}: image {step.image} is not pinned by tag or digest")
        for argv in step.commands:
            check_command(step, argv, root, made, found)
    values = {**BUILTINS, **{k: str(v) for k, v in (config.get("substitutions") or {}).items()}}
    for image in config.get("images") or []:
        name = substitute(str(image), values, found)
        if name not in made.built:
            found.append(f"images: {name} is not built by any step")
    for dockerfile in made.dockerfiles:
        check_dockerfile(root / dockerfile, root, found, made.docker_after.get(dockerfile))
    return found


def load(path: Path) -> dict[str, Any]:
    config = yaml.safe_load(path.read_text())
    assert isinstance(config, dict), f"{path} is not a mapping"
    return config
