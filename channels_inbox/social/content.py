"""Structured content (``Message.content``) in one documented shape for every platform,
with the line of text the timeline shows for it (agents see something readable even where
the content is not rendered specially).

- ``{"type": "location", "latitude": .., "longitude": .., "name": "", "address": ""}``
- ``{"type": "contacts", "contacts": [{"name": "", "phones": [], "emails": []}]}``
- ``{"type": "unsupported", "platform": "telegram", "shape": "dice", "raw": {...}}`` -- a
  shape we do not know yet, kept as received (bounded) so nothing is lost.
- ``{"type": "media", "kind": "sticker", ...}`` -- something shown only by description.
"""

from __future__ import annotations

import json
from typing import Any

from channels_inbox.social.base import clean

RAW_LIMIT = 20_000


def location(latitude: Any, longitude: Any, *, name: Any = "", address: Any = "") -> tuple[dict, str]:
    try:
        lat, lon = float(latitude), float(longitude)
    except (TypeError, ValueError):
        lat = lon = None
    content = {"type": "location", "latitude": lat, "longitude": lon, "name": clean(name, 500), "address": clean(address, 1000)}
    label = ", ".join(p for p in (content["name"], content["address"]) if p)
    text = f"📍 Location: {lat}, {lon}" + (f" ({label})" if label else "")
    return content, text


def contacts(people: list[dict[str, Any]]) -> tuple[dict, str]:
    cards = [
        {
            "name": clean(p.get("name"), 300),
            "phones": [clean(x, 64) for x in p.get("phones", []) if x][:20],
            "emails": [clean(x, 320) for x in p.get("emails", []) if x][:20],
        }
        for p in people[:50]
    ]
    lines = [" ".join(filter(None, [c["name"], *c["phones"], *c["emails"]])) for c in cards]
    return {"type": "contacts", "contacts": cards}, "👤 Contact: " + "; ".join(lines)


def unsupported(platform: str, shape: str, raw: Any) -> tuple[dict, str]:
    """A shape we do not understand: kept, bounded, and announced in words."""
    text = json.dumps(raw, ensure_ascii=False, default=str)
    kept: Any = raw if len(text) <= RAW_LIMIT else {"truncated": clean(text, RAW_LIMIT)}
    content = {"type": "unsupported", "platform": platform, "shape": clean(shape, 100), "raw": _storable(kept)}
    return content, f"[{platform} sent content Parley cannot show yet: {clean(shape, 100)}]"


def _storable(value: Any) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, list):
        return [_storable(v) for v in value]
    if isinstance(value, dict):
        return {clean(str(k), 200): _storable(v) for k, v in value.items()}
    return value
