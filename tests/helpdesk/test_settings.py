"""Production safety of the settings, checked in fresh processes as an operator would start them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


def test_full_mode_refuses_to_start_without_a_secret_key(tmp_path):
    result = _run(["check"], {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test", "PARLEY_VAR_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_embedded_mode_generates_and_keeps_its_own_secret_key(tmp_path):
    first = _run(["check"], {"PARLEY_VAR_DIR": str(tmp_path)})
    assert first.returncode == 0, first.stderr
    key = (tmp_path / "secret_key").read_text()
    assert len(key) >= 50
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"
    _run(["check"], {"PARLEY_VAR_DIR": str(tmp_path)})
    assert (tmp_path / "secret_key").read_text() == key


def test_check_deploy_is_clean_with_production_variables(tmp_path):
    result = _run(
        ["check", "--deploy", "--fail-level", "WARNING"],
        {
            "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/test",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "SECRET_KEY": "x7!kP2-" + "q" * 20 + "Zr9@Lm4#Tw8$Yb1%Hs6^Nc3&Vd5*Jf0(Gk" + "e" * 10,
            "ALLOWED_HOSTS": "help.example.com",
            "CSRF_TRUSTED_ORIGINS": "https://help.example.com",
            "SECURE_HTTPS": "true",
            "SECURE_HSTS_PRELOAD": "true",
            "PARLEY_VAR_DIR": str(tmp_path),
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_is_off_and_cookies_secure_behind_https_unless_asked_otherwise(tmp_path):
    code = "from django.conf import settings as s; print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.ALLOWED_HOSTS)"
    production = _run(["shell", "-c", code], {"PARLEY_VAR_DIR": str(tmp_path), "SECURE_HTTPS": "1", "ALLOWED_HOSTS": "a.example"})
    assert production.stdout.strip().splitlines()[-1].split() == ["False", "True", "True", "['a.example']"], production.stderr
    debug = _run(["shell", "-c", code], {"PARLEY_VAR_DIR": str(tmp_path), "DEBUG": "1"})
    assert debug.stdout.strip().splitlines()[-1].split()[0] == "True"
