#!/usr/bin/env python
"""Benchmark: a sustained mixed load on one ASGI process and one Celery worker.

In full mode (PostgreSQL + Redis), this script:

1. migrates the database it is given and seeds a small working set: the chat channel and
   agent of ``bench/chat.py``, the email channel of ``bench/ingest_email.py`` with
   ``--seed-tickets`` tickets (made in process, through the real pipeline), a generic API
   channel ``bench-load-api`` with a signing secret, ``--agents`` agents in the Bench team
   (signed in), and an API key made by ``manage.py create_api_key`` (revoked at the end);
2. starts ONE uvicorn process (``helpdesk.asgi:application``), ONE Celery worker (``-P solo``,
   on a queue of its own; outgoing mail goes to Django's dummy backend) and the inbound SMTP
   server (``manage.py smtp_inbound``), all on loopback;
3. for ``--duration`` seconds runs, concurrently, in this process's event loop:

   - ``email``: generated RFC 5322 mail (new threads, replies, some HTML and attachments)
     sent over SMTP at ``--email-rate`` per second, one SMTP session each, timed until the
     ``250`` (sent only after the message is stored);
   - ``webhook``: signed JSON messages to the API channel's ``/hooks/api/<key>/`` at
     ``--webhook-rate`` per second, timed until the ``200`` (stored);
   - ``chat``: ``--chat-connections`` widget websockets, each sending a message every
     ``--chat-interval`` seconds (start times spread over the interval) and timed until its
     ``ack`` (sent after the message is stored and through the pipeline);
   - ``agent_inbox`` / ``agent_ticket`` / ``agent_reply``: ``--agents`` signed-in agents, each
     in a loop: the inbox (All open), a seeded ticket's page, a reply posted to it (the worker
     delivers it), with ``--agent-think`` seconds between steps;
   - ``api``: ``GET /api/v1/tickets/?status=open`` with the key at ``--api-rate`` per second;

   email, webhooks and API reads are open-loop (sent on schedule, whatever the answers' pace);
4. samples the resident memory (RSS) of the ASGI process, the worker and the SMTP server every
   10 s; ``steady`` means the last sample is within 10 % of the middle one;
5. waits (up to ``--drain-timeout``) until the worker has processed every inbound row of the
   run, then checks that every accepted inbound message (email by Message-ID, webhook by
   ``id``, chat by ``client_id``) is stored exactly once.

Prints one JSON object on stdout (progress on stderr)::

    python bench/load.py --database-url postgres://postgres@127.0.0.1:5432/parley_bench_load \\
        --redis-url redis://127.0.0.1:6379/9 [--duration 600] [--chat-connections 1000] [--agents 20]

Every run adds tickets to that database: give it one of its own. The load generators run in
this process on the same machine as the servers: their own CPU use is part of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import resource
import signal
import smtplib
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from io import StringIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import chat as chat_bench  # its server start-up, set-up and helpers, shared

API_CHANNEL = "bench-load-api"
AGENT_PREFIX = "bench-load-agent"
SIGNING_SECRET = "bench-load-signing-secret-not-for-production"  # a local bench channel's, protects nothing
KINDS = ("email", "webhook", "chat", "agent_inbox", "agent_ticket", "agent_reply", "api")
ANSWER_TIMEOUT = 120.0  # seconds; later is an error ("TimeoutError")
_MESSAGE_ID = re.compile(rb"^Message-ID: <([^>]+)>", re.MULTILINE | re.IGNORECASE)


# The sizes of the run: (flag, type, default, what it is).
SIZES = (
    ("--duration", float, 600.0, "seconds of load"),
    ("--email-rate", float, 2.0, "inbound emails per second over SMTP"),
    ("--webhook-rate", float, 2.0, "API-channel webhooks per second"),
    ("--chat-connections", int, 1000, "open widget websockets"),
    ("--chat-interval", float, 60.0, "seconds between one visitor's messages"),
    ("--agents", int, 20, "agents browsing and replying at once"),
    ("--agent-think", float, 3.0, "seconds an agent pauses between steps"),
    ("--api-rate", float, 5.0, "API reads per second"),
    ("--seed-tickets", int, 50, "email tickets made before the load"),
    ("--drain-timeout", float, 120.0, "seconds to wait for the worker afterwards"),
)


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""), help="PostgreSQL URL (default $DATABASE_URL)")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""), help="Redis URL (default $REDIS_URL)")
    for flag, kind, default, meaning in SIZES:
        parser.add_argument(flag, type=kind, default=default, help=f"{meaning} (default {default:g})")
    return parser.parse_args()


_T0 = time.perf_counter()


def log(text: str) -> None:
    chat_bench.log(f"[load {time.perf_counter() - _T0:6.1f}s] {text}")


class Stats:
    """One kind of request: latencies of the successes, and the failures with their first messages."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.messages: list[str] = []

    async def time(self, call: Awaitable[str | None]) -> bool:
        """Await ``call`` (it returns None on success, else what went wrong) and record it."""
        started = time.perf_counter()
        try:
            problem = await asyncio.wait_for(call, ANSWER_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - any failure is the load test's finding
            problem = f"{type(exc).__name__}: {exc}"
        if problem is None:
            self.latencies.append((time.perf_counter() - started) * 1000)
            return True
        self.fail(problem)
        return False

    def fail(self, problem: str) -> None:
        self.errors += 1
        if len(self.messages) < 5:
            self.messages.append(problem[:300])

    def report(self, seconds: float) -> dict[str, Any]:
        return {
            "count": len(self.latencies) + self.errors,
            "errors": self.errors,
            "error_messages": self.messages,
            "latency_ms": chat_bench.percentiles(self.latencies),
            "per_second": round(len(self.latencies) / seconds, 2) if seconds else 0.0,
        }


# --- Set-up (synchronous, Django in this process) -----------------------------------------


def seed(args: argparse.Namespace, run: str) -> dict[str, Any]:
    """The working set besides bench/chat.py's channel and agent (see the module docstring)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.test import Client

    # bench/ingest_email.py sets Django up on import: imported only once the environment is final.
    from bench import ingest_email
    from channels_inbox.models import Channel
    from tickets.models import AgentProfile, Ticket
    from tickets.roles import AGENT, roles_sync

    email_channel = ingest_email.bench_channel()
    api_channel, _ = Channel.objects.update_or_create(
        name=API_CHANNEL, kind=Channel.Kind.API, defaults={"is_active": True, "default_team": email_channel.default_team}
    )
    api_channel.secrets = {"signing_secret": SIGNING_SECRET}
    api_channel.save(update_fields=["secrets"])
    cookies = []
    role = Group.objects.filter(name=AGENT).first() or roles_sync()[AGENT]
    for i in range(max(1, args.agents)):
        user, _ = get_user_model().objects.get_or_create(username=f"{AGENT_PREFIX}-{i}", defaults={"is_staff": True})
        profile, _ = AgentProfile.objects.update_or_create(
            user=user, defaults={"availability": AgentProfile.Availability.AVAILABLE, "capacity": 1_000_000}
        )
        profile.teams.add(email_channel.default_team)
        user.groups.add(role)
        client = Client()
        client.force_login(user)
        cookies.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    out = StringIO()
    call_command("create_api_key", f"bench/load.py {run}", "--user", f"{AGENT_PREFIX}-0", stdout=out, stderr=StringIO())
    if args.seed_tickets:
        raws = ingest_email.generate(count=args.seed_tickets, seed=1, run=f"load-seed-{run}")
        ingest_email.ingest(email_channel, raws, len(raws))
    numbers = list(Ticket.objects.filter(channel=email_channel).order_by("-pk").values_list("number", flat=True)[:200])
    if not numbers:
        raise SystemExit("no ticket on the email channel to browse: give --seed-tickets 1 or more")
    return {
        "email_channel": email_channel,
        "api_channel": api_channel,
        "cookies": cookies,
        "api_key": out.getvalue().strip().splitlines()[-1],
        "tickets": numbers,
    }


def revoke_key(run: str) -> None:
    from tickets.api import keys
    from tickets.api.models import ApiKey

    for key in ApiKey.objects.filter(name=f"bench/load.py {run}"):
        keys.api_key_revoke(key=key)


def start_worker(env: dict[str, str]) -> subprocess.Popen:
    command = [sys.executable, "-m", "celery", "-A", "helpdesk", "worker", "-P", "solo", "-Q", env["CELERY_QUEUE"],
               "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=sys.stderr, stderr=sys.stderr)


def start_smtp(port: int, env: dict[str, str]) -> subprocess.Popen:
    command = [sys.executable, "manage.py", "smtp_inbound", "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=sys.stderr, stderr=sys.stderr)


def wait_for_port(port: int, process: subprocess.Popen, what: str) -> None:
    import socket

    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit(f"{what} exited while starting")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"{what} did not listen within 30 s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


# --- The load (asyncio) ---------------------------------------------------------------------


async def paced(rate: float, stop_at: float, make: Callable[[int], Awaitable[Any]]) -> None:
    """Open loop: start ``make(i)`` at ``rate`` per second until ``stop_at``, then await the stragglers."""
    if rate <= 0:
        return
    pending: set[asyncio.Task] = set()
    started = time.perf_counter()
    i = 0
    while (due := started + i / rate) < stop_at:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        task = asyncio.create_task(make(i))
        pending.add(task)
        task.add_done_callback(pending.discard)
        i += 1
    if pending:
        await asyncio.wait(pending, timeout=60)


def send_email(port: int, sender: str, recipient: str, raw: bytes) -> str | None:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        refused = smtp.sendmail(sender, [recipient], raw)
    return f"refused: {refused}" if refused else None


async def run_load(args: argparse.Namespace, setup: dict[str, Any], ports: dict[str, int], pids: dict[str, int], run: str) -> dict[str, Any]:
    import httpx
    from websockets.asyncio.client import connect

    from bench import ingest_email
    from channels_inbox.adapters.api import sign

    base = f"http://127.0.0.1:{ports['http']}"
    ws_base = base.replace("http://", "ws://")
    stats = {kind: Stats() for kind in KINDS}
    accepted: dict[str, list[str]] = {"email": [], "webhook": [], "chat": []}
    rng = random.Random(7)

    # Mail to send, generated before the clock starts (as bench/ingest_email.py does).
    # On the wire SMTP lines end in CRLF (smtplib sends bytes as they are; the generator writes LF).
    count = math.ceil(args.email_rate * args.duration) + 1 if args.email_rate > 0 else 0
    raws = [raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") for raw in ingest_email.generate(count=count, seed=2, run=f"load-{run}")]
    pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="smtp")
    loop = asyncio.get_running_loop()

    # Chat: sessions and sockets before the clock starts; one extra visitor warms the pipeline up.
    http = httpx.AsyncClient(base_url=base, timeout=60, limits=httpx.Limits(max_connections=200))
    widget_headers = {"Origin": chat_bench.ORIGIN}
    key = setup["chat_key"]
    limit = asyncio.Semaphore(16)

    async def new_session() -> str:
        async with limit:
            response = await http.post(f"/widget/{key}/session", json={}, headers=widget_headers)
            response.raise_for_status()
            return response.json()["visitor_token"]

    log("chat sessions …")
    tokens = await asyncio.gather(*(new_session() for _ in range(args.chat_connections + 1)))
    limit = asyncio.Semaphore(50)

    async def open_socket(token: str) -> Any:
        async with limit:
            return await connect(f"{ws_base}/ws/widget/{key}/?token={token}", origin=chat_bench.ORIGIN,
                                 ping_interval=None, open_timeout=120, max_queue=None)

    async def chat_send(ws: Any, text: str) -> str | None:
        client_id = str(uuid.uuid4())
        await ws.send(json.dumps({"type": "message", "client_id": client_id, "text": text}))
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if frame.get("type") == "ack" and frame.get("client_id") == client_id:
                accepted["chat"].append(client_id)
                return None if frame.get("id") is not None else "ack without a message id (pipeline failed)"
            if frame.get("type") == "error":
                return f"error frame: {frame}"

    log("warm-up message …")
    warm = await open_socket(tokens.pop())
    await chat_send(warm, "Warm-up: hello, my order has not arrived yet and I would like to know where it is.")
    accepted["chat"].clear()  # not part of the run's check
    await warm.close()
    sockets = list(await asyncio.gather(*(open_socket(token) for token in tokens)))
    log(f"{len(sockets)} widget sockets open")

    rss: list[dict[str, Any]] = []
    load_before = [round(x, 2) for x in os.getloadavg()]
    started = time.perf_counter()
    stop_at = started + args.duration

    async def sample_rss() -> None:
        while True:
            rss.append({"at_s": round(time.perf_counter() - started, 1), **{name: chat_bench.rss_kib(pid) for name, pid in pids.items()}})
            await asyncio.sleep(10)

    async def one_email(i: int) -> None:
        raw = raws[i % len(raws)]
        if await stats["email"].time(loop.run_in_executor(pool, send_email, ports["smtp"], "sender@customers.bench.example", ingest_email.CHANNEL_ADDRESS, raw)):
            accepted["email"].append(_MESSAGE_ID.search(raw).group(1).decode())

    hook_url = f"/hooks/api/{setup['api_channel'].public_key}/"

    async def post_webhook(body: bytes) -> str | None:
        stamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-Parley-Timestamp": stamp, "X-Parley-Signature": sign(SIGNING_SECRET, stamp, body)}
        response = await http.post(hook_url, content=body, headers=headers)
        return None if response.status_code == 200 else f"{response.status_code}: {response.text[:200]}"

    async def one_webhook(i: int) -> None:
        message_id = f"load-{run}-{i}"
        item = {
            "id": message_id,
            "conversation_id": f"load-{run}-conv-{i % 100}",
            "from": {"id": f"load-user-{i % 300}", "name": f"Load User {i % 300}"},
            "subject": f"Order {10_000 + i % 100} question",
            "text": chat_bench.TEXTS[i % len(chat_bench.TEXTS)].format(i=i),
        }
        if await stats["webhook"].time(post_webhook(json.dumps(item).encode())):
            accepted["webhook"].append(message_id)

    api_headers = {"Authorization": f"Bearer {setup['api_key']}"}

    async def get_ok(path: str, headers: dict[str, str] | None = None, client: httpx.AsyncClient = http) -> str | None:
        response = await client.get(path, headers=headers)
        return None if response.status_code == 200 else f"GET {path}: {response.status_code} {response.text[:200]}"

    async def one_api(i: int) -> None:
        await stats["api"].time(get_ok("/api/v1/tickets/?status=open", api_headers))

    async def think(seconds: float) -> bool:
        """Pause, but not past the end of the run; whether there is time left for another step."""
        await asyncio.sleep(max(0.0, min(seconds, stop_at - time.perf_counter())))
        return time.perf_counter() < stop_at

    async def visitor(ws: Any, n: int) -> None:
        i = 0
        next_at = time.perf_counter() + rng.uniform(0, args.chat_interval)
        while await think(next_at - time.perf_counter()):
            next_at += args.chat_interval
            ok = await stats["chat"].time(chat_send(ws, chat_bench.TEXTS[(n + i) % len(chat_bench.TEXTS)].format(i=f"{n}-{i}")))
            if not ok and ws.close_code is not None:
                return
            i += 1

    async def agent(cookie: str, n: int) -> None:
        from django.conf import settings

        jar = {settings.SESSION_COOKIE_NAME: cookie}
        async with httpx.AsyncClient(base_url=base, timeout=60, cookies=jar) as client:
            i = 0
            while await think(rng.uniform(0, args.agent_think) if i == 0 else args.agent_think):
                number = setup["tickets"][(n + i * len(setup["cookies"])) % len(setup["tickets"])]
                await stats["agent_inbox"].time(get_ok("/?view=open", client=client))
                opened = await think(args.agent_think) and await stats["agent_ticket"].time(get_ok(f"/tickets/{number}/", client=client))
                if opened and await think(args.agent_think):
                    await stats["agent_reply"].time(reply(client, number, i))
                i += 1

    async def reply(client: httpx.AsyncClient, number: int, i: int) -> str | None:
        token = client.cookies.get("csrftoken", "")
        data = {"text": f"Thanks for writing in; we are looking into it (reply {i}).", "csrfmiddlewaretoken": token}
        response = await client.post(f"/tickets/{number}/reply/", data=data, headers={"X-CSRFToken": token})
        return None if response.status_code == 302 else f"POST reply: {response.status_code} {response.text[:200]}"

    sampler = asyncio.create_task(sample_rss())
    await asyncio.gather(
        paced(args.email_rate, stop_at, one_email),
        paced(args.webhook_rate, stop_at, one_webhook),
        paced(args.api_rate, stop_at, one_api),
        *(visitor(ws, n) for n, ws in enumerate(sockets)),
        *(agent(cookie, n) for n, cookie in enumerate(setup["cookies"][: args.agents])),
    )
    seconds = time.perf_counter() - started
    sampler.cancel()
    rss.append({"at_s": round(seconds, 1), **{name: chat_bench.rss_kib(pid) for name, pid in pids.items()}})
    open_at_end = sum(1 for ws in sockets if ws.close_code is None)
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    await http.aclose()
    pool.shutdown(wait=False)
    return {
        "seconds": round(seconds, 1),
        "load_average_before": load_before,
        "chat_connections_open_at_end": open_at_end,
        "requests": {kind: s.report(seconds) for kind, s in stats.items()},
        "memory": memory_report(rss, pids),
        "accepted": accepted,
    }


def memory_report(samples: list[dict[str, Any]], pids: dict[str, int]) -> dict[str, Any]:
    """RSS at start, middle and end per process; steady = end within 10 % of the middle."""
    report: dict[str, Any] = {"interval_s": 10, "samples": len(samples)}
    middle = samples[len(samples) // 2]
    for name in pids:
        start_kib, middle_kib, end_kib = samples[0][name], middle[name], samples[-1][name]
        report[name] = {
            "rss_kib_start": start_kib,
            "rss_kib_middle": middle_kib,
            "rss_kib_end": end_kib,
            "steady": bool(middle_kib) and abs(end_kib - middle_kib) <= 0.1 * middle_kib,
        }
    report["series_kib"] = [[sample["at_s"], *(sample[name] for name in pids)] for sample in samples]
    report["series_columns"] = ["at_s", *pids]
    return report


# --- After the load: everything accepted is stored exactly once ----------------------------


def check_stored(setup: dict[str, Any], accepted: dict[str, list[str]], replies_posted: int, since: Any, timeout: float) -> dict[str, Any]:
    from channels_inbox.models import InboundMessage
    from tickets.models import Message

    inbound = InboundMessage.objects.filter(channel__in=[setup["email_channel"], setup["api_channel"]], received_at__gte=since)
    replies = Message.objects.filter(
        direction=Message.Direction.OUTBOUND, author_user__username__startswith=AGENT_PREFIX, created_at__gte=since
    )
    deadline = time.monotonic() + timeout
    while True:
        waiting = inbound.filter(status=InboundMessage.Status.RECEIVED).count()
        queued = replies.filter(delivery_status=Message.DeliveryStatus.QUEUED).count()
        if not (waiting or queued) or time.monotonic() > deadline:
            break
        time.sleep(1)
    log(f"still waiting for the worker: {waiting} inbound rows, {queued} replies")
    stored = {
        "email": Counter(Message.objects.filter(channel=setup["email_channel"], external_id__in=accepted["email"]).values_list("external_id", flat=True)),
        "webhook": Counter(Message.objects.filter(channel=setup["api_channel"], external_id__in=accepted["webhook"]).values_list("external_id", flat=True)),
        # A widget message's external id is "<visitor>:<client_id>".
        "chat": Counter(
            external_id.partition(":")[2]
            for external_id in Message.objects.filter(channel_id=setup["chat_channel_id"], created_at__gte=since).values_list("external_id", flat=True)
            if external_id
        ),
    }
    result: dict[str, Any] = {}
    for kind, ids in accepted.items():
        counts = [stored[kind][i] for i in ids]
        result[kind] = {
            "accepted": len(ids),
            "stored_once": counts.count(1),
            "missing": counts.count(0),
            "duplicated": sum(1 for c in counts if c > 1),
        }
    # The agents' replies, delivered by the worker (to Django's dummy mail backend).
    result["agent_replies"] = {
        "posted": replies_posted,
        "stored": replies.count(),
        "sent": replies.filter(delivery_status=Message.DeliveryStatus.SENT).count(),
        "queued": queued,
        "failed": replies.filter(delivery_status=Message.DeliveryStatus.FAILED).count(),
    }
    result["inbound_waiting"] = waiting
    result["inbound_quarantined"] = inbound.filter(status=InboundMessage.Status.QUARANTINED).count()
    sent_all = replies_posted == result["agent_replies"]["stored"] == result["agent_replies"]["sent"]
    result["ok"] = sent_all and not waiting and not result["inbound_quarantined"] and all(r["stored_once"] == r["accepted"] for k, r in result.items() if k in accepted)
    return result


def main() -> None:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    args = _parse_args()
    if not args.database_url.startswith(("postgres://", "postgresql://")) or not args.redis_url.startswith("redis"):
        raise SystemExit("bench/load.py runs in full mode: give --database-url postgres://… and --redis-url redis://…")
    sockets_needed = 4 * args.chat_connections + 512
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < sockets_needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (sockets_needed if hard == resource.RLIM_INFINITY else min(hard, sockets_needed), hard))
    run = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-load-not-secret"),
        "CHANNEL_LAYER_PREFIX": os.environ.get("CHANNEL_LAYER_PREFIX", f"bench-load-{run}"),
        "CELERY_QUEUE": f"bench-load-{run}",  # this run's worker takes only this run's tasks
        "ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SETTINGS_MODULE": "helpdesk.settings",
        # One client address sends everything here: the per-address limits are for the real world.
        "PARLEY_WIDGET_IP_RATE": "0",
        "PARLEY_WIDGET_VISITOR_RATE": "0",
        "PARLEY_HOOKS_IP_RATE": "0",
        "API_THROTTLE_RATE": "100000000/min",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",  # agents' replies go nowhere
        "STATIC_MANIFEST": "0",  # as the tests: pages link static/ files without a collectstatic run
        "DATABASE_CONN_MAX_AGE": os.environ.get("DATABASE_CONN_MAX_AGE", "60"),
    }
    os.environ.update(env)
    chat_bench.ensure_database(args.database_url)
    log("migrating …")
    chat_key, _, _ = chat_bench.prepare()  # migrate; the chat channel and its agent
    from channels_inbox.models import Channel

    log("seeding …")
    setup = {**seed(args, run), "chat_key": chat_key, "chat_channel_id": Channel.objects.get(public_key=chat_key).pk}
    from django.db import connections
    from django.utils import timezone

    connections.close_all()  # nothing held open in this process during the load
    log("starting the servers …")
    ports = {"http": chat_bench.free_port(), "smtp": chat_bench.free_port()}
    processes = {
        "asgi": chat_bench.start_server(ports["http"], env),
        "worker": start_worker(env),
        "smtp": start_smtp(ports["smtp"], env),
    }
    try:
        asyncio.run(chat_bench.wait_until_up(f"http://127.0.0.1:{ports['http']}", processes["asgi"]))
        wait_for_port(ports["smtp"], processes["smtp"], "smtp_inbound")
        log(f"uvicorn, celery worker and smtp_inbound up; load for {args.duration:g} s …")
        since = timezone.now()
        pids = {name: process.pid for name, process in processes.items()}
        result = asyncio.run(run_load(args, setup, ports, pids, run))
        accepted = result.pop("accepted")
        replies_posted = result["requests"]["agent_reply"]["count"] - result["requests"]["agent_reply"]["errors"]
        check = check_stored(setup, accepted, replies_posted, since, args.drain_timeout)
    finally:
        for process in processes.values():
            stop(process)
        revoke_key(run)
    print(json.dumps({
        "benchmark": "load",
        "servers": "uvicorn (1 process), celery worker (1 process, solo pool), smtp_inbound; PostgreSQL, Redis",
        "measured": "client-side latency from this process: email until the SMTP 250 (stored), webhook until 200 "
                    "(stored), chat until the ack (stored and through the pipeline), agent pages until the response, "
                    "API reads until the response; RSS every 10 s; afterwards every accepted message stored once",
        "settings": {name: value for name, value in vars(args).items() if not name.endswith("_url")},
        **result,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "errors_total": sum(r["errors"] for r in result["requests"].values()),
        "error_rate": round(sum(r["errors"] for r in result["requests"].values()) / max(1, sum(r["count"] for r in result["requests"].values())), 5),
        "memory_steady": all(m["steady"] for m in result["memory"].values() if isinstance(m, dict)),
        "stored_exactly_once": check,
    }))


if __name__ == "__main__":
    main()
