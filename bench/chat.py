#!/usr/bin/env python
"""Benchmark: live chat on one ASGI process — N open widget websockets, customer -> agent latency.

In full mode (PostgreSQL + Redis), this script:

1. migrates the database it is given and makes a chat channel ``bench-chat`` (no pre-chat
   questions) and a signed-in agent (``bench-chat-agent``) in it;
2. starts ONE uvicorn process serving ``helpdesk.asgi:application`` on loopback;
3. opens the agent's inbox websocket (``/ws/inbox/``: the workspace hears every new
   message there, as ``message.created`` with its id), starts ``--connections`` visitor
   sessions (``POST /widget/<key>/session``) and opens one widget websocket per visitor;
4. sends ``--messages`` visitor messages at ``--rate`` per second, round-robin over the
   visitors (so with the default of two per visitor, half open a ticket and half follow up),
   and times each from the moment the visitor's frame leaves to the moment the agent's
   socket hears of that message (matched by the message id of the visitor's ``ack``).

Memory per open connection is the server's RSS growth while the widget sockets opened,
divided by their number. Prints one JSON object on stdout (progress on stderr)::

    python bench/chat.py --database-url postgres://postgres@127.0.0.1:5432/parley_bench_chat \\
        --redis-url redis://127.0.0.1:6379/9 [--connections 1000] [--messages 2000] [--rate 50]

Every run adds tickets to that database: give it one of its own. The client side (all the
sockets) runs in this process, on the same machine: its own event-loop delay is part of the
figures, and the machine's other work shows in them; compare figures from one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ORIGIN = "http://shop.bench.example"
TEXTS = (
    "Hello, I ordered a grinder last week (order {i}) and it has not arrived yet. Can you check?",
    "Thanks! Could you also tell me whether the beans ship in the same parcel? Message {i}.",
    "I would like to change the delivery address of order {i} to my office, please.",
)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""), help="PostgreSQL URL (default $DATABASE_URL)")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""), help="Redis URL (default $REDIS_URL)")
    parser.add_argument("--connections", type=int, default=1000, help="open widget websockets (default 1,000)")
    parser.add_argument("--messages", type=int, default=0, help="visitor messages to time (default 2 per connection)")
    parser.add_argument("--rate", type=float, default=50.0, help="messages per second, all visitors together (default 50)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the last deliveries (default 60)")
    return parser.parse_args()


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None, "count": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 2)

    return {"p50": at(0.5), "p95": at(0.95), "p99": at(0.99), "max": round(ordered[-1], 2), "count": len(ordered)}


def ensure_database(url: str) -> None:
    """Create the database when missing (connecting to the server's ``postgres`` database)."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
            log(f"created database {name}")


def prepare() -> tuple[str, str, str]:
    """Migrate, then the chat channel and a signed-in agent: (widget key, session cookie name, value)."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from channels_inbox.models import Channel
    from tickets.models import AgentProfile

    call_command("migrate", verbosity=0, interactive=False)
    channel, _ = Channel.objects.update_or_create(
        name="bench-chat",
        kind=Channel.Kind.CHAT,
        defaults={"is_active": True, "config": {"widget": {"prechat": {"name": "off", "email": "off"}}}},
    )
    user, _ = get_user_model().objects.get_or_create(username="bench-chat-agent", defaults={"is_staff": True})
    AgentProfile.objects.update_or_create(user=user, defaults={"availability": AgentProfile.Availability.AVAILABLE})
    client = Client()
    client.force_login(user)
    return channel.public_key, settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def start_server(port: int, env: dict[str, str]) -> subprocess.Popen:
    command = [sys.executable, "-m", "uvicorn", "helpdesk.asgi:application", "--host", "127.0.0.1",
               "--port", str(port), "--log-level", "warning", "--no-access-log"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=sys.stderr, stderr=sys.stderr)


async def wait_until_up(base: str, server: subprocess.Popen) -> None:
    import httpx

    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if server.poll() is not None:
                raise SystemExit("the ASGI server exited while starting")
            try:
                if (await client.get(f"{base}/healthz", timeout=2)).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise SystemExit("the ASGI server did not start within 30 s")


async def run(args: argparse.Namespace, key: str, cookie: tuple[str, str], base: str, server_pid: int) -> dict[str, Any]:
    import httpx
    from websockets.asyncio.client import connect

    ws_base = base.replace("http://", "ws://")
    arrivals: dict[int, float] = {}  # message id -> when the agent's socket heard of it
    acks: dict[str, tuple[float, int | None]] = {}  # client_id -> (when, message id)
    errors: list[dict[str, Any]] = []
    closed = 0

    agent = await connect(f"{ws_base}/ws/inbox/", origin=base, additional_headers={"Cookie": f"{cookie[0]}={cookie[1]}"},
                          ping_interval=None, max_queue=None)

    async def agent_reader() -> None:
        async for raw in agent:
            event = json.loads(raw)
            if event.get("kind") == "message.created" and event.get("message_id") is not None:
                arrivals.setdefault(int(event["message_id"]), time.perf_counter())

    agent_task = asyncio.create_task(agent_reader())

    # Sessions over HTTP, a few at a time (as many browsers would).
    started = time.perf_counter()
    tokens: list[str] = []
    limit = asyncio.Semaphore(16)
    async with httpx.AsyncClient(base_url=base, headers={"Origin": ORIGIN}, timeout=30) as http:

        async def new_session() -> None:
            async with limit:
                response = await http.post(f"/widget/{key}/session", json={})
                response.raise_for_status()
                tokens.append(response.json()["visitor_token"])

        await asyncio.gather(*(new_session() for _ in range(args.connections + 1)))
    sessions_seconds = time.perf_counter() - started
    log(f"{len(tokens)} sessions in {sessions_seconds:.1f} s")

    # Warm-up, not timed: one more visitor's first messages load the pipeline's lazy parts
    # (the language identifier's model takes seconds to load on the first real sentence).
    warm_token = tokens.pop()
    async with connect(f"{ws_base}/ws/widget/{key}/?token={warm_token}", origin=ORIGIN, ping_interval=None) as warm:
        for i in range(3):
            text = f"Warm-up {i}: hello, my order has not arrived yet and I would like to know where it is."
            await warm.send(json.dumps({"type": "message", "client_id": str(uuid.uuid4()), "text": text}))
            while json.loads(await asyncio.wait_for(warm.recv(), 60)).get("type") != "ack":
                pass

    await asyncio.sleep(1)
    rss_before = rss_kib(server_pid)
    started = time.perf_counter()
    sockets: list[Any] = []

    async def reader(ws: Any) -> None:
        nonlocal closed
        try:
            async for raw in ws:
                frame = json.loads(raw)
                if frame.get("type") == "ack":
                    acks.setdefault(frame["client_id"], (time.perf_counter(), frame.get("id")))
                elif frame.get("type") == "error":
                    errors.append(frame)
        finally:
            closed += 1

    async def open_socket(token: str) -> None:
        async with limit:
            ws = await connect(f"{ws_base}/ws/widget/{key}/?token={token}", origin=ORIGIN, ping_interval=None,
                               open_timeout=60)
            sockets.append(ws)
            readers.append(asyncio.create_task(reader(ws)))

    readers: list[asyncio.Task] = []
    limit = asyncio.Semaphore(50)
    await asyncio.gather(*(open_socket(token) for token in tokens))
    connect_seconds = time.perf_counter() - started
    await asyncio.sleep(2)  # let the consumers settle (presence rows, keepalive tasks)
    rss_after = rss_kib(server_pid)
    log(f"{len(sockets)} widget sockets open in {connect_seconds:.1f} s; server RSS {rss_before} -> {rss_after} KiB")

    # Messages, paced, round-robin over the visitors.
    total = args.messages or 2 * len(sockets)
    sent: dict[str, tuple[float, bool]] = {}  # client_id -> (when, is the visitor's first message)
    started = time.perf_counter()
    for i in range(total):
        due = started + i / args.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        client_id = str(uuid.uuid4())
        sent[client_id] = (time.perf_counter(), i < len(sockets))
        await sockets[i % len(sockets)].send(json.dumps({"type": "message", "client_id": client_id, "text": TEXTS[i % len(TEXTS)].format(i=i)}))
    send_seconds = time.perf_counter() - started
    log(f"{total} messages sent in {send_seconds:.1f} s")

    deadline = time.perf_counter() + args.timeout
    while time.perf_counter() < deadline:
        delivered = sum(1 for cid in sent if cid in acks and acks[cid][1] in arrivals)
        if delivered == len(sent):
            break
        await asyncio.sleep(0.2)
    open_at_end = len(sockets) - closed

    latency_all, latency_first, latency_follow, ack_ms = [], [], [], []
    for client_id, (t0, first) in sent.items():
        if client_id not in acks:
            continue
        acked_at, message_id = acks[client_id]
        ack_ms.append((acked_at - t0) * 1000)
        if message_id in arrivals:
            ms = (arrivals[message_id] - t0) * 1000
            latency_all.append(ms)
            (latency_first if first else latency_follow).append(ms)

    for ws in sockets:
        await ws.close()
    await agent.close()
    agent_task.cancel()
    await asyncio.gather(*readers, agent_task, return_exceptions=True)

    return {
        "connections": len(sockets),
        "connections_open_at_end": open_at_end,
        "sessions_seconds": round(sessions_seconds, 2),
        "connect_seconds": round(connect_seconds, 2),
        "messages_sent": len(sent),
        "messages_acked": len(ack_ms),
        "messages_delivered_to_agent": len(latency_all),
        "rate_per_second": args.rate,
        "send_seconds": round(send_seconds, 2),
        "latency_ms": percentiles(latency_all),
        "latency_new_ticket_ms": percentiles(latency_first),
        "latency_follow_up_ms": percentiles(latency_follow),
        "ack_ms": percentiles(ack_ms),
        "server_rss_kib_before": rss_before,
        "server_rss_kib_after": rss_after,
        "memory_per_connection_kib": round((rss_after - rss_before) / max(1, len(sockets)), 1),
        "errors": errors[:5],
        "error_count": len(errors),
    }


def main() -> None:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    args = _parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")) or not args.redis_url.startswith("redis"):
        raise SystemExit("bench/chat.py runs in full mode: give --database-url postgres://… and --redis-url redis://…")
    # Many sockets on both ends: raise the open-files limit as far as allowed (the server inherits it).
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 4 * args.connections + 256)) if hard != resource.RLIM_INFINITY else 4 * args.connections + 256
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))

    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-chat-not-secret"),
        "CHANNEL_LAYER_PREFIX": os.environ.get("CHANNEL_LAYER_PREFIX", f"bench-chat-{os.getpid()}"),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
        # One client IP opens every session here: the per-IP limit is for the real world.
        "PARLEY_WIDGET_IP_RATE": "0",
        "PARLEY_WIDGET_VISITOR_RATE": "0",
        # The consumers' worker threads keep their database connections (as production should).
        "DATABASE_CONN_MAX_AGE": os.environ.get("DATABASE_CONN_MAX_AGE", "60"),
    }
    os.environ.update(env)
    ensure_database(args.database_url)
    key, cookie_name, cookie_value = prepare()
    from django.conf import settings

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(port, env)
    try:
        asyncio.run(wait_until_up(base, server))
        log(f"uvicorn (pid {server.pid}) on {base}")
        result = asyncio.run(run(args, key, (cookie_name, cookie_value), base, server.pid))
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    print(json.dumps({
        "benchmark": "chat",
        "server": "uvicorn, 1 process",
        "channel_layer": settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1],
        "database": "postgresql",
        **result,
    }))


if __name__ == "__main__":
    main()
