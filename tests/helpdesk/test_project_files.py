"""The project's own files keep their promises: the README documents every setting and opens
with the two set-up commands, and docker-compose.yml describes a runnable full mode.

These tests read files only (and run ``docker-compose config`` when it is installed);
they need no database.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "helpdesk" / "settings.py"
README = ROOT / "README.md"
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"

# env("X"), env.bool("X", ...), env.list(\n "X"), env.db("X") ... : the first string argument.
_ENV_CALL_RE = re.compile(r"\benv(?:\.\w+)?\(\s*[\"']([A-Za-z_][A-Za-z0-9_]*)[\"']")
# Reads that bypass django-environ would escape the table too.
_OS_ENV_RE = re.compile(r"\bos\.(?:environ\.get\(|environ\[|getenv\()\s*[\"']([A-Za-z_][A-Za-z0-9_]*)[\"']")
_VAR_NAME_RE = re.compile(r"`([A-Z][A-Z0-9_]*)`")
_COMPOSE_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


def settings_variables() -> set[str]:
    source = SETTINGS.read_text()
    return set(_ENV_CALL_RE.findall(source)) | set(_OS_ENV_RE.findall(source))


def readme_configuration_rows() -> dict[str, list[str]]:
    """Variable name -> the cells of its row in the README's "## Configuration" table."""
    text = README.read_text()
    match = re.search(r"^## Configuration\s*$(.*?)(?=^## )", text, flags=re.MULTILINE | re.DOTALL)
    assert match, 'README.md has no "## Configuration" section followed by another section'
    rows: dict[str, list[str]] = {}
    for line in match.group(1).splitlines():
        line = line.strip()
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        for name in _VAR_NAME_RE.findall(cells[0]):
            rows[name] = cells
    return rows


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


# --- README ---------------------------------------------------------------------------


def test_the_settings_parser_finds_the_variables_it_must():
    found = settings_variables()
    # A sample spanning plain, typed, multi-line and conditional reads: if the regex
    # breaks, the documentation test below must not pass for finding nothing.
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "EMAIL_BACKEND", "SECURE_HSTS_SECONDS"} <= found
    assert len(found) >= 20


def test_every_environment_variable_read_by_settings_is_in_the_readme_table():
    rows = readme_configuration_rows()
    missing = sorted(settings_variables() - rows.keys())
    assert not missing, f"helpdesk/settings.py reads {missing}; add them to README.md's configuration table"
    for name in settings_variables():
        cells = rows[name]
        assert len(cells) >= 3 and all(cells[:3]), f"README.md's row for {name} needs a default and a meaning"


def test_the_readme_table_lists_no_variable_settings_no_longer_reads():
    stale = sorted(readme_configuration_rows().keys() - settings_variables())
    assert not stale, f"README.md documents {stale}, which helpdesk/settings.py does not read"


def test_readme_opens_with_make_run_and_make_test():
    head = README.read_text().splitlines()[:15]
    commands = [line.split("#", 1)[0].strip() for line in head]
    assert "make run" in commands, "README.md must show `make run` within its first 15 lines"
    assert "make test" in commands, "README.md must show `make test` within its first 15 lines"
    assert commands.index("make run") < commands.index("make test")


def test_readme_mentions_every_variable_docker_compose_interpolates():
    readme = README.read_text()
    undocumented = sorted(name for name in set(_COMPOSE_VAR_RE.findall(COMPOSE.read_text())) if f"`{name}`" not in readme)
    assert not undocumented, f"docker-compose.yml reads {undocumented}; mention them in README.md"


# --- docker-compose.yml and Dockerfile -------------------------------------------------


def test_compose_has_the_full_mode_services():
    services = compose()["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= services.keys()
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert "celery -A helpdesk worker" in " ".join(services["worker"]["command"])
    assert "celery -A helpdesk beat" in " ".join(services["beat"]["command"])
    web_command = " ".join(services["web"]["command"])
    for step in ("manage.py migrate", "manage.py collectstatic", "uvicorn helpdesk.asgi:application"):
        assert step in web_command


@pytest.mark.parametrize("name", ["postgres", "redis", "web", "worker"])
def test_compose_services_have_healthchecks(name):
    # beat has none on purpose: it serves nothing to ask (see the comment on the service).
    check = compose()["services"][name].get("healthcheck")
    assert check and check.get("test") and not check.get("disable"), f"{name} needs a healthcheck"


def test_web_starts_once_postgres_and_redis_are_healthy_and_checks_healthz():
    web = compose()["services"]["web"]
    for dependency in ("postgres", "redis"):
        assert web["depends_on"][dependency]["condition"] == "service_healthy"
    assert "/healthz" in " ".join(web["healthcheck"]["test"])


def test_uploads_live_on_a_named_volume_shared_by_web_and_worker():
    spec = compose()
    services = spec["services"]
    media_root = services["web"]["environment"]["MEDIA_ROOT"]
    assert services["worker"]["environment"]["MEDIA_ROOT"] == media_root
    mounts = {}
    for name in ("web", "worker"):
        volumes = [v.split(":")[0] for v in services[name].get("volumes", []) if v.split(":")[1] == media_root]
        assert volumes, f"{name} must mount a volume at MEDIA_ROOT ({media_root})"
        mounts[name] = volumes[0]
    assert mounts["web"] == mounts["worker"]
    assert mounts["web"] in (spec.get("volumes") or {}), "the uploads volume must be a named volume"
    postgres_mounts = [v.split(":")[0] for v in services["postgres"].get("volumes", [])]
    assert any(m in (spec.get("volumes") or {}) for m in postgres_mounts), "PostgreSQL data needs a named volume"


def test_dockerfile_runs_as_a_non_root_user_and_exposes_8000():
    lines = [line.strip() for line in DOCKERFILE.read_text().splitlines()]
    assert any(line.startswith("FROM python:3.12-slim") for line in lines)
    users = [line.split(None, 1)[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), "the image must not run as root"
    assert "EXPOSE 8000" in lines


def test_docker_compose_config_is_valid_with_no_variables_set():
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (CI installs it; .ci/run validates the file too)")
    interpolated = set(_COMPOSE_VAR_RE.findall(COMPOSE.read_text()))
    env = {k: v for k, v in os.environ.items() if k not in interpolated}
    result = subprocess.run(
        [binary, "-f", str(COMPOSE), "config", "-q"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
