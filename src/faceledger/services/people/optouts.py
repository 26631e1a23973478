"""Opt-out lists: import files of URLs, domains and owner ids; match photos against them.

Example::

    report = import_optouts(ledger, Path("do-not-train.json"), actor="cli")
    report.added, report.reserved

Accepted files (a file that cannot be read at all is refused; one bad line is reported):

- plain text: one entry a line, ``#`` comments; ``url:``, ``domain:`` or ``owner:`` may prefix
  an entry, otherwise an ``http(s)://`` line is a URL, a Flickr-style id (``123@N01``) an
  owner, and a bare host name a domain (which covers its subdomains);
- CSV / TSV with a header naming ``url``, ``domain`` and/or ``owner`` (or ``owner_id``)
  columns, and optionally ``optOut`` (rows whose optOut is false are skipped);
- JSON / JSON Lines: a list of strings or objects, or ``{"urls": [...], "domains": [...],
  "owners": [...]}``; objects carry ``url`` / ``domain`` / ``owner`` and optionally
  ``optOut``: the shape of Spawning's Do-Not-Train API answers and exports.

Importing reserves, in the same transaction, every photo not fetched yet that a list entry
covers (its download or page URL, its host or a parent domain, its owner); such a photo is
then never downloaded. A photo whose bytes are already held keeps them but gets the
reservation too (counted as ``already_held``): ``assess`` then tells the law engine
``tdm_reserved``; remove its bytes with ``faceledger request``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Connection, select, update

from faceledger.core.signals import Reservation
from faceledger.errors import ManifestError
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.ledger import utcnow
from faceledger.store.tables import OPTOUT_ENTRIES, PHOTOS, chunks

_OWNER = re.compile(r"^\d+@N\d+$")
_HOST = re.compile(r"^[a-z0-9*]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+\.?$", re.I)
_CHUNK = 400  # entry rows per INSERT, values per IN (...) list (see listed_reservations)
_PAGE = 2_000
MAX_REJECTS_SHOWN = 20


@dataclass
class OptOutImport:
    file: str
    sha256: str
    seen: int = 0
    added: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    reserved: int = 0
    already_held: int = 0
    rejected: int = 0
    rejects: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def normalize_url(url: str) -> str:
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    port = parts.port
    if port and not (
        (parts.scheme == "http" and port == 80) or (parts.scheme == "https" and port == 443)
    ):
        host = f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", parts.query, ""))


def normalize_domain(value: str) -> str:
    value = value.strip().lower()
    if "://" in value:
        value = urlsplit(value).hostname or ""
    return value.lstrip("*").lstrip(".").rstrip(".")


#: Which kind of list entry says more about one photo (:func:`listed_reservations`).
_SPECIFIC = {"url": 0, "owner": 1, "domain": 2}


def _domains_of(url: str) -> list[str]:
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    labels = host.split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)] if len(labels) > 1 else [host]


def classify(text: str) -> tuple[str, str] | None:
    """``(kind, normalised value)`` of one plain-list entry, or ``None`` if it is neither."""
    text = text.strip()
    for kind in ("url", "domain", "owner"):
        if text.lower().startswith(f"{kind}:"):
            return _entry(kind, text.split(":", 1)[1])
    if text.lower().startswith(("http://", "https://")):
        return _entry("url", text)
    if _OWNER.match(text):
        return ("owner", text)
    if _HOST.match(text):
        return _entry("domain", text)
    return None


def _entry(kind: str, value: str) -> tuple[str, str] | None:
    value = value.strip()
    if not value:
        return None
    if kind == "url":
        return (
            ("url", normalize_url(value))
            if value.lower().startswith(("http://", "https://"))
            else None
        )
    if kind == "domain":
        domain = normalize_domain(value)
        return ("domain", domain) if domain and _HOST.match(domain) else None
    return ("owner", value)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "")
    return bool(value)


def _from_object(item: dict[str, Any]) -> list[tuple[str, str] | None]:
    if "optOut" in item and not _truthy(item["optOut"]):
        return []
    found = []
    for kind, keys in (
        ("url", ("url",)),
        ("domain", ("domain",)),
        ("owner", ("owner", "owner_id")),
    ):
        for key in keys:
            if item.get(key):
                found.append(_entry(kind, str(item[key])))
    return found or [None]


def parse_optouts(path: Path) -> Iterator[tuple[int, tuple[str, str] | None, str]]:
    """``(line or item number, entry or None, the raw text)`` for every entry of ``path``."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read the opt-out list: {exc}") from None
    suffix = path.suffix.lower()
    if suffix in (".json", ".jsonl", ".ndjson"):
        yield from _parse_json(path, text, lines=suffix != ".json")
    elif suffix in (".csv", ".tsv"):
        yield from _parse_table(path, text, "\t" if suffix == ".tsv" else ",")
    else:
        for number, line in enumerate(text.splitlines(), 1):
            body = (
                line.split("#", 1)[0].strip()
                if not line.lstrip().startswith("http")
                else line.strip()
            )
            if body:
                yield number, classify(body), body


def _parse_json(
    path: Path, text: str, *, lines: bool
) -> Iterator[tuple[int, tuple[str, str] | None, str]]:
    try:
        documents = (
            [json.loads(line) for line in text.splitlines() if line.strip()]
            if lines
            else [json.loads(text)]
        )
    except ValueError as exc:
        raise ManifestError(f"{path}: not valid JSON: {exc}") from None
    items: list[Any] = []
    for document in documents:
        if isinstance(document, dict) and any(k in document for k in ("urls", "domains", "owners")):
            for key, kind in (("urls", "url"), ("domains", "domain"), ("owners", "owner")):
                for item in document.get(key) or []:
                    items.append(item if isinstance(item, dict) else {kind: item})
        elif isinstance(document, list):
            items.extend(document)
        else:
            items.append(document)
    for number, item in enumerate(items, 1):
        if isinstance(item, str):
            yield number, classify(item), item
        elif isinstance(item, dict):
            for entry in _from_object(item):
                yield number, entry, json.dumps(item)[:200]
        else:
            yield number, None, repr(item)[:200]


def _parse_table(
    path: Path, text: str, delimiter: str
) -> Iterator[tuple[int, tuple[str, str] | None, str]]:
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    names = {name.strip() for name in reader.fieldnames or []}
    if not names & {"url", "domain", "owner", "owner_id"}:
        raise ManifestError(
            f"{path}: an opt-out table needs a url, domain or owner column (has {sorted(names)})"
        )
    for number, row in enumerate(reader, 2):
        clean = {k.strip(): v for k, v in row.items() if k}
        for entry in _from_object(clean):
            yield number, entry, delimiter.join(str(v) for v in row.values())[:200]


def import_optouts(ledger: Ledger, path: Path, *, actor: str = "cli") -> OptOutImport:
    """Import ``path`` and reserve the not-yet-fetched photos it covers (module docs)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    report = OptOutImport(file=path.name, sha256=digest)
    entries: dict[tuple[str, str], None] = {}
    for number, entry, raw in parse_optouts(path):
        report.seen += 1
        if entry is None:
            report.rejected += 1
            if len(report.rejects) < MAX_REJECTS_SHOWN:
                report.rejects.append(
                    f"{path.name}:{number}: not a URL, domain or owner id: {raw!r}"
                )
            continue
        entries[entry] = None
    now = utcnow()
    with ledger.begin() as conn:
        rows = [{"kind": k, "value": v, "list_name": path.name, "list_sha256": digest, "created_at": now}
                for k, v in entries]  # fmt: skip
        for batch in chunks(rows, _CHUNK):
            stmt = ledger.insert_ignoring_conflicts(OPTOUT_ENTRIES, ["kind", "value"])
            report.added += len(conn.execute(stmt.returning(OPTOUT_ENTRIES.c.id), batch).all())
        for kind, _ in entries:
            report.by_kind[kind] = report.by_kind.get(kind, 0) + 1
        report.reserved, report.already_held = _reserve_listed(conn, now)
        append(conn, AuditRecord(
            name="optouts.import", actor=actor, object_type="optout_list", object_id=digest[:16],
            payload={"file": path.name, "sha256": digest, "entries": report.by_kind,
                     "added": report.added, "rejected": report.rejected,
                     "photos_reserved": report.reserved, "already_held": report.already_held},
        ))  # fmt: skip
    return report


def _reserve_listed(conn: Connection, now: Any) -> tuple[int, int]:
    reserved = held = 0
    last = 0
    while True:
        page = conn.execute(
            select(PHOTOS.c.id, PHOTOS.c.download_url, PHOTOS.c.page_url, PHOTOS.c.owner_id,
                   PHOTOS.c.path, PHOTOS.c.fetch_status)
            .where(PHOTOS.c.id > last, PHOTOS.c.excluded_request_id.is_(None),
                   PHOTOS.c.reservation.is_(None))
            .order_by(PHOTOS.c.id).limit(_PAGE)
        ).all()  # fmt: skip
        if not page:
            return reserved, held
        last = int(page[-1].id)
        matched = listed_reservations(conn, page)
        for row in page:
            if row.id not in matched:
                continue
            if row.path is not None or row.fetch_status == "fetched":
                # bytes already held (faces may exist): mark the reservation, so assess gives
                # the law engine tdm_reserved = true; removing the bytes is a request's job
                conn.execute(update(PHOTOS).where(PHOTOS.c.id == row.id).values(
                    reservation=matched[row.id].code, reservation_evidence=matched[row.id].to_dict(),
                ))  # fmt: skip
                held += 1
                continue
            conn.execute(
                update(PHOTOS).where(PHOTOS.c.id == row.id).values(
                    fetch_status="reserved", scan_status="reserved", fetched_at=now,
                    reservation=matched[row.id].code, reservation_evidence=matched[row.id].to_dict(),
                )
            )  # fmt: skip
            reserved += 1


def listed_reservations(conn: Connection, photos: Sequence[Any]) -> dict[int, Reservation]:
    """Photo id -> the list entry covering it, for rows with id, download_url, page_url,
    owner_id. When several entries cover a photo, the most specific is the one recorded: its
    URL, then its owner, then the longest of its domains; between lists, the first by name.
    The same entry on every backend and every run, whatever order the rows come back in."""
    wanted: dict[tuple[str, str], list[int]] = {}
    for row in photos:
        for url in (row.download_url, row.page_url):
            if url:
                wanted.setdefault(("url", normalize_url(url)), []).append(int(row.id))
                for domain in _domains_of(url):
                    wanted.setdefault(("domain", domain), []).append(int(row.id))
        if row.owner_id:
            wanted.setdefault(("owner", str(row.owner_id)), []).append(int(row.id))
    hits: list[Any] = []
    values = sorted({v for _, v in wanted})
    for chunk in chunks(values, _CHUNK):  # by value (indexed); the kind is checked below
        hits += conn.execute(
            select(
                OPTOUT_ENTRIES.c.kind,
                OPTOUT_ENTRIES.c.value,
                OPTOUT_ENTRIES.c.list_name,
                OPTOUT_ENTRIES.c.list_sha256,
            ).where(
                OPTOUT_ENTRIES.c.kind.in_(("url", "domain", "owner")),
                OPTOUT_ENTRIES.c.value.in_(chunk),
            )  # (kind, value) index
        ).all()
    hits.sort(key=lambda h: (_SPECIFIC[h.kind], -len(h.value), h.list_name, h.value))
    found: dict[int, Reservation] = {}
    for hit in hits:
        for photo_id in wanted.get((hit.kind, hit.value), []):
            found.setdefault(photo_id, Reservation(
                "optout-list",
                {"file": hit.list_name, "list_sha256": hit.list_sha256,
                 "rule": f"{hit.kind} {hit.value}"},
            ))  # fmt: skip
    return found
