"""The HTTP details of the server that are not endpoints: transition parameters, queue ids,
content versions, ETag matching and byte ranges."""

from __future__ import annotations

import base64
import json
from typing import Any, Dict, Optional, Tuple

from fastapi import HTTPException

import auralis_core as ac


def parse_transition(value: Optional[str]) -> Optional[Tuple[Optional[str], float]]:
    if value is None or value == "":
        return None
    preset, _, intensity = value.partition(":")
    try:
        level = float(intensity) if intensity else 1.0
    except ValueError:
        raise ac.InvalidArgumentError(f"invalid transition_from {value!r}: use preset or preset:intensity")
    return (preset, level)


def queue_id_of(request: Dict[str, Any]) -> str:
    """A queue's id: its request, canonical JSON in URL-safe base64. It names the queue fully,
    so any worker process (or machine) serves a queue without having seen its POST."""
    text = json.dumps(request, sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def queue_request_of(queue_id: str) -> Dict[str, Any]:
    try:
        padded = queue_id + "=" * (-len(queue_id) % 4)
        request = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise HTTPException(status_code=404, detail="unknown queue id")
    if not isinstance(request, dict):
        raise HTTPException(status_code=404, detail="unknown queue id")
    return request


class StaleVersion(Exception):
    """A URL's content version (``v``) is no longer the file's."""


def etag_matches(header: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` list names ``etag`` (weak comparison, as RFC 9110 says for
    this header; ``*`` matches anything)."""
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def parse_range(header: str, length: int):
    """A ``Range: bytes=...`` header against ``length`` bytes: ``(start, end)`` inclusive, None
    to serve the whole body (no single byte range: other units, several ranges or a malformed
    value, which RFC 9110 lets a server ignore), or ``"unsatisfiable"``."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0:
                return "unsatisfiable"
            return (max(0, length - suffix), length - 1) if length else "unsatisfiable"
        start = int(first)
        end = int(last) if last else length - 1
    except ValueError:
        return None
    if start < 0 or (last and end < start):
        return None
    if start >= length:
        return "unsatisfiable"
    return (start, min(end, length - 1))

