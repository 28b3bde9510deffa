#!/usr/bin/env python
"""Benchmark: how many emails per second become tickets and messages, end to end.

Each message takes the path mail from IMAP or SMTP takes: ``inbound_store`` (the durable
inbox row) then ``inbound_process`` (parse, dedupe, identify the customer, thread, open or
append, store attachments, route), one transaction each, timed per message. The emails are
generated in memory before the clock starts: realistic RFC 5322 messages from a few hundred
senders, new threads and replies (In-Reply-To, References, quoted text), some with an HTML
part, some with attachments.

Runs against whatever database the environment names (embedded SQLite under var/ by default,
or DATABASE_URL and SECRET_KEY for PostgreSQL); migrate it first. It only adds rows, on a
channel of its own ("bench", bench@parley.localhost) with senders at customers.bench.example;
``--fresh`` first deletes what earlier runs added there, and nothing else. Prints one JSON
object on stdout (logs go to stderr)::

    python bench/ingest_email.py --count 1000
    {"benchmark": "ingest_email", "messages": 1000, "seconds": ..., "messages_per_second": ..., ...}
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import multiprocessing
import os
import random
import re
import shutil
import sys
import tempfile
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection, connections, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from channels_inbox import services  # noqa: E402
from channels_inbox.models import Channel, InboundMessage  # noqa: E402
from tickets.models import AgentProfile, Customer, CustomerIdentity, Team, Ticket  # noqa: E402
from tickets.routing.models import Rule, SLAPolicy, SLATarget, TeamRouting  # noqa: E402

CHANNEL_ADDRESS = "bench@parley.localhost"
SENDER_DOMAIN = "customers.bench.example"

FIRST = ("Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Edsger", "Radia", "Tim")
LAST = ("Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie", "Allen", "Dijkstra")
SUBJECTS = (
    "Cannot log in since this morning",
    "Invoice {n} shows the wrong VAT number",
    "Order #{n} has not arrived",
    "Export to CSV fails with an error",
    "Refund for order #{n}",
    "Question about upgrading our plan",
    "Webhook deliveries failing with 502",
    "Ünïcode in the subject: Bestellung {n} fehlt",
)
SENTENCES = (
    "I have tried clearing the cache and logging in from another browser, without success.",
    "This is blocking our team, so a quick answer would be very much appreciated.",
    "The error appears right after I press the save button.",
    "Our finance department needs the corrected document before the end of the month.",
    "I attached a screenshot of what I see on my side.",
    "The tracking page has not changed for five days now.",
    "We are on the Business plan and have about forty users.",
    "Could you also tell me whether this affects our other accounts?",
    "It worked fine until last week's update.",
    "Thanks in advance for your help.",
)
REPLIES = (
    "Thanks for the quick answer, but it still does not work for me.",
    "That fixed it, thank you!",
    "Here are the details you asked for.",
    "Any news on this? We are still waiting.",
)


def _attachments(rng: random.Random) -> list[tuple[str, str, bytes]]:
    """A small pool of files (logos, signed PDFs and screenshots recur in real mail; the
    store is content-addressed, so the bench does not fill the disk with copies)."""
    pool = []
    for i in range(12):
        size = rng.choice((8_000, 40_000, 120_000, 300_000))
        kind = rng.choice((("screenshot.png", "image/png"), ("invoice.pdf", "application/pdf"), ("log.txt", "text/plain")))
        data = bytes(rng.getrandbits(8) for _ in range(256)) * (size // 256)
        pool.append((f"{i}-{kind[0]}", kind[1], data))
    return pool


def generate(*, count: int, seed: int, run: str) -> list[bytes]:
    """``count`` raw emails: about 40% start a thread, the rest answer an earlier one."""
    rng = random.Random(seed)
    pool = _attachments(rng)
    senders = [
        (f"{rng.choice(FIRST)} {rng.choice(LAST)}", f"user{i}@{SENDER_DOMAIN}") for i in range(max(50, count // 4))
    ]
    threads: list[dict] = []
    raws = []
    for i in range(count):
        msg = EmailMessage()
        message_id = f"{run}.{i}.{rng.getrandbits(48):x}@{SENDER_DOMAIN}"
        if threads and rng.random() < 0.6:
            thread = rng.choice(threads[-200:])
            name, address = thread["sender"]
            msg["Subject"] = "Re: " + thread["subject"]
            msg["In-Reply-To"] = f"<{thread['ids'][-1]}>"
            msg["References"] = " ".join(f"<{m}>" for m in thread["ids"][-10:])
            quoted = "\n".join(f"> {line}" for line in thread["body"].splitlines())
            body = f"{rng.choice(REPLIES)}\n\n{name.split()[0]}\n\nOn {format_datetime(timezone.now())}, {name} wrote:\n{quoted}\n"
            thread["ids"].append(message_id)
        else:
            name, address = rng.choice(senders)
            subject = rng.choice(SUBJECTS).format(n=rng.randrange(10_000, 99_999))
            paragraphs = [" ".join(rng.sample(SENTENCES, rng.randint(2, 4))) for _ in range(rng.randint(1, 4))]
            body = "Hello,\n\n" + "\n\n".join(paragraphs) + f"\n\nBest regards,\n{name}\n"
            msg["Subject"] = subject
            threads.append({"sender": (name, address), "subject": subject, "ids": [message_id], "body": body})
        msg["From"] = formataddr((name, address))
        msg["To"] = CHANNEL_ADDRESS
        msg["Date"] = format_datetime(timezone.now())
        msg["Message-ID"] = f"<{message_id}>"
        msg.set_content(body)
        if rng.random() < 0.4:
            html = "".join(f"<p>{p}</p>" for p in body.split("\n\n"))
            msg.add_alternative(f"<html><body>{html}</body></html>", subtype="html")
        if rng.random() < 0.1:
            filename, content_type, data = rng.choice(pool)
            maintype, _, subtype = content_type.partition("/")
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
        raws.append(msg.as_bytes())
    return raws


def bench_channel() -> Channel:
    """The benchmark's own channel (and team, so routing runs as it does for real channels)."""
    team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    channel, _ = Channel.objects.get_or_create(
        inbound_address=CHANNEL_ADDRESS, defaults={"kind": Channel.Kind.EMAIL, "name": "bench", "default_team": team}
    )
    return channel


@transaction.atomic
def forget_earlier_runs(*, channel: Channel) -> None:
    """--fresh: remove what earlier runs added on the bench channel, and nothing else."""
    Ticket.objects.filter(channel=channel).delete()
    InboundMessage.objects.filter(channel=channel).delete()
    ids = CustomerIdentity.objects.filter(address__endswith=f"@{SENDER_DOMAIN}").values_list("customer_id", flat=True)
    Customer.objects.filter(pk__in=list(ids), tickets=None).delete()


ROUTING_PREFIX = "bench-ingest"


def remove_routing_setup(*, team: Team) -> None:
    """What ``install_routing_setup`` added (rules, policy, agents), and the team's settings."""
    Rule.objects.filter(name__startswith=ROUTING_PREFIX).delete()
    TeamRouting.objects.filter(team=team).delete()
    SLAPolicy.objects.filter(name__startswith=ROUTING_PREFIX).delete()
    get_user_model().objects.filter(username__startswith=ROUTING_PREFIX).delete()


def install_routing_setup(*, team: Team, rules: int) -> None:
    """--routing realistic: what a small helpdesk configures. ``rules`` rules on new tickets
    and replies (text, sender, tier, language, sentiment conditions; tags, priority, notes),
    a few of which match the generated mail; an SLA policy on the team; round robin over
    four available agents with room for every ticket."""
    remove_routing_setup(team=team)
    policy = SLAPolicy.objects.create(name=f"{ROUTING_PREFIX} standard")
    SLATarget.objects.bulk_create(
        [
            SLATarget(policy=policy, priority=p, first_response_minutes=m, next_response_minutes=2 * m, resolution_minutes=20 * m)
            for p, m in (("low", 480), ("normal", 240), ("high", 60), ("urgent", 15))
        ]
    )
    TeamRouting.objects.create(team=team, strategy=TeamRouting.Strategy.ROUND_ROBIN, sla_policy=policy)
    for i in range(4):
        user = get_user_model().objects.create(username=f"{ROUTING_PREFIX}-agent{i}", is_staff=True)
        profile = AgentProfile.objects.create(user=user, capacity=1_000_000, availability=AgentProfile.Availability.AVAILABLE)
        profile.teams.add(team)
    words = ("invoice", "refund", "login", "export", "webhook", "order", "upgrade", "vat", "csv", "502")
    shapes = [
        lambda w: ([{"field": "subject", "op": "contains", "value": w}], [{"type": "add_tags", "tags": [w]}]),
        lambda w: ([{"field": "text", "op": "regex", "value": rf"\b{w}\b"}], [{"type": "add_tags", "tags": [f"{w}-text"]}]),
        lambda w: (
            [{"field": "sender_domain", "op": "is", "value": f"{w}.example"}],
            [{"type": "set_priority", "priority": "high"}],
        ),
        lambda w: (
            [{"field": "customer_tier", "op": "is", "value": "vip"}, {"field": "sentiment", "op": "lt", "value": -0.5}],
            [{"type": "notify", "to": ["managers"], "text": "Unhappy VIP on {{ ticket.number }}"}],
        ),
        lambda w: (
            [{"field": "language", "op": "in", "value": ["de", "fr"]}],
            [{"type": "add_note", "text": "Customer writes in {{ ticket.language }}"}],
        ),
    ]
    objs = []
    for i in range(rules):
        conditions, actions = shapes[i % len(shapes)](words[i % len(words)] + ("" if i < len(words) else str(i)))
        objs.append(
            Rule(
                name=f"{ROUTING_PREFIX}-{i}", position=i, on_created=True, on_message=i % 2 == 0,
                conditions=conditions, actions=actions,
            )
        )
    Rule.objects.bulk_create(objs)


class QueryCounter:
    """Counts the SQL statements this process sends (Django's execute wrapper, no DEBUG)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        self.count += 1
        return execute(sql, params, many, context)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rss_mb() -> float:
    """Resident memory of this process now (Linux), in MiB."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


_FROM_RE = re.compile(rb"^From: .*?([^<\s]+@[^>\s]+)", re.MULTILINE)


def write_share(path: Path, raws: list[bytes]) -> None:
    """Length-prefixed raw messages in a file, so a process streams its share instead of
    holding it (held bytes would be copied into a forked child as it touches them, and
    look like the pipeline's own memory growth)."""
    with path.open("wb") as fh:
        for raw in raws:
            fh.write(len(raw).to_bytes(4, "big"))
            fh.write(raw)


def read_share(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while header := fh.read(4):
            yield fh.read(int.from_bytes(header, "big"))


def ingest(channel: Channel, raws: Iterable[bytes], count: int) -> dict:
    """Store and process each message, one transaction each, as a receiver and a worker would."""
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        result = _ingest(channel, raws, count)
    result["queries"] = counter.count
    return result


def _ingest(channel: Channel, raws: Iterable[bytes], count: int) -> dict:
    outcomes: Counter[str] = Counter()
    latencies: list[float] = []
    rss = {"start": round(rss_mb(), 1)}
    marks = {count // 10: "after_10_percent", count // 2: "after_50_percent"}
    for index, raw in enumerate(raws, start=1):
        t0 = time.perf_counter()
        inbound = services.inbound_store(channel=channel, raw=raw, source="bench", enqueue=False)
        result = services.inbound_process(inbound_id=inbound.pk)
        latencies.append(time.perf_counter() - t0)
        outcomes[result.outcome] += 1
        if result.outcome == "quarantined":
            print(f"quarantined inbound #{inbound.pk}: {result.error}", file=sys.stderr)
        if index in marks:
            rss[marks[index]] = round(rss_mb(), 1)
    rss["end"] = round(rss_mb(), 1)
    return {"outcomes": dict(outcomes), "latencies": latencies, "rss_mb": rss}


def _child(channel_id: int, share: Path, count: int, queue: multiprocessing.Queue) -> None:
    try:
        queue.put(ingest(Channel.objects.get(pk=channel_id), read_share(share), count))
    except BaseException as exc:  # the parent must hear of it, not wait forever
        queue.put({"error": f"{type(exc).__name__}: {exc}"})
        raise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="emails to ingest (default 2000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the generated mail")
    parser.add_argument("--fresh", action="store_true", help="first delete what earlier runs of this bench added")
    parser.add_argument(
        "--processes", type=int, default=1, help="parallel ingesting processes, like that many workers (default 1)"
    )
    parser.add_argument(
        "--routing",
        choices=("none", "realistic"),
        default="none",
        help="none: no rules, policies or automatic assignment (default); realistic: --rules rules, an SLA policy "
        "and a round-robin team of four agents, removed again at the end",
    )
    parser.add_argument("--rules", type=int, default=20, help="rules of --routing realistic (default 20)")
    parser.add_argument(
        "--skip-step",
        action="append",
        default=[],
        metavar="NAME",
        help="leave this pipeline step out (e.g. route_rules), to measure what one step costs; repeatable",
    )
    args = parser.parse_args()
    if args.skip_step:
        from channels_inbox import pipeline

        unknown = set(args.skip_step) - {step.__name__ for step in pipeline.STEPS}
        if unknown:
            parser.error(f"no such pipeline step: {', '.join(sorted(unknown))}")
        pipeline.STEPS[:] = [step for step in pipeline.STEPS if step.__name__ not in args.skip_step]

    # Log lines go to stderr: stdout carries the one JSON result.
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            handler.setStream(sys.stderr)

    channel = bench_channel()
    if args.fresh:
        forget_earlier_runs(channel=channel)
    assert channel.default_team is not None
    remove_routing_setup(team=channel.default_team)
    if args.routing == "realistic":
        install_routing_setup(team=channel.default_team, rules=args.rules)
    try:
        _run(args, channel)
    finally:
        remove_routing_setup(team=channel.default_team)


def _run(args: argparse.Namespace, channel: Channel) -> None:
    load_before = [round(x, 2) for x in os.getloadavg()]
    # A fresh run token keeps Message-IDs unique across runs, so a rerun is not all duplicates.
    raws = generate(count=args.count, seed=args.seed, run=uuid.uuid4().hex[:10])

    total = len(raws)
    if args.processes <= 1:
        started = time.perf_counter()
        runs = [ingest(channel, raws, total)]
        seconds = time.perf_counter() - started
    else:
        # Split by sender, so a conversation stays in one process in order, as it would
        # with the customer row lock serialising one customer's messages.
        shares: list[list[bytes]] = [[] for _ in range(args.processes)]
        for raw in raws:
            match = _FROM_RE.search(raw)
            shares[zlib.crc32(match.group(1) if match else raw[:64]) % args.processes].append(raw)
        folder = Path(tempfile.mkdtemp(prefix="parley-bench-"))
        paths = [folder / f"share-{i}" for i in range(args.processes)]
        for path, share in zip(paths, shares):
            write_share(path, share)
        counts = [len(share) for share in shares]
        del raws, shares  # the children stream their shares from disk
        gc.collect()
        connections.close_all()  # each process opens its own
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        children = [
            context.Process(target=_child, args=(channel.pk, path, count, queue)) for path, count in zip(paths, counts)
        ]
        started = time.perf_counter()
        for child in children:
            child.start()
        runs = [queue.get() for _ in children]
        seconds = time.perf_counter() - started
        for child in children:
            child.join()
        shutil.rmtree(folder, ignore_errors=True)
        failed = [run["error"] for run in runs if "error" in run]
        if failed:
            raise SystemExit(f"a benchmark process failed: {failed}")

    latencies = [value for run in runs for value in run["latencies"]]
    outcomes: Counter[str] = Counter()
    for run in runs:
        outcomes.update(run["outcomes"])
    print(
        json.dumps(
            {
                "benchmark": "ingest_email",
                "messages": total,
                "processes": max(1, args.processes),
                "routing": args.routing if args.routing == "none" else f"{args.routing} ({args.rules} rules)",
                "skipped_steps": args.skip_step,
                "seconds": round(seconds, 3),
                "messages_per_second": round(total / seconds, 1) if seconds else None,
                "p50_ms": round(percentile(latencies, 0.50) * 1000, 2) if latencies else None,
                "p95_ms": round(percentile(latencies, 0.95) * 1000, 2) if latencies else None,
                "rss_mb": [run["rss_mb"] for run in runs],
                "sql_per_message": round(sum(run["queries"] for run in runs) / total, 1) if total else None,
                "database": connections["default"].vendor,
                "load_average": {"before": load_before, "after": [round(x, 2) for x in os.getloadavg()]},
                "outcomes": dict(outcomes),
            }
        )
    )


if __name__ == "__main__":
    main()
