"""/healthz tells a load balancer (and a human) whether the database, cache and broker answer."""

from __future__ import annotations

import pytest

from tests.conftest import full_mode_only


@pytest.mark.django_db
def test_healthy_reports_every_dependency(client, settings):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker"}
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["database"]["detail"] == ("postgresql" if settings.FULL_MODE else "sqlite")
    assert response["Cache-Control"].startswith("max-age=0")


def test_database_unreachable_gives_503(client):
    # No django_db mark: pytest-django refuses every database access, as a dead server would.
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["database"]["error"]


@pytest.mark.django_db
def test_cache_down_gives_503(client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"socket_connect_timeout": 1},
        }
    }
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["cache"]["ok"] is False
    assert response.json()["checks"]["database"]["ok"] is True


@full_mode_only
@pytest.mark.django_db
def test_broker_down_gives_503(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    response = client.get("/healthz")
    assert response.status_code == 503
    broker = response.json()["checks"]["broker"]
    assert broker["ok"] is False and "Error" in broker["error"]


@full_mode_only
@pytest.mark.django_db
def test_real_redis_broker_reported_in_full_mode(client):
    response = client.get("/healthz")
    assert response.json()["checks"]["broker"]["detail"] == "redis"
    assert response.json()["checks"]["cache"]["detail"] == "RedisCache"


def test_healthz_only_answers_get(client):
    assert client.post("/healthz").status_code == 405
