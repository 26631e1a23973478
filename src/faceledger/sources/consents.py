"""Consent records as they arrive: parsing files (CSV, JSON Lines) and validating values.

Pure of the ledger. Example::

    for line, row in read_consent_rows(Path("consents.csv"), data):
        values = validate_consent(row)      # or RowError, with the reason shown to the user

:mod:`faceledger.services.consent` records what passes and reports what does not, with file
and line.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from faceledger.core.law.model import CONSENT_FORMS
from faceledger.errors import ManifestError

FIELDS = (
    "owner_id", "subject_id", "form", "purposes", "informed", "granted", "expires", "revoked",
    "evidence_uri", "evidence_sha256",
)  # fmt: skip
_SHA256 = re.compile(r"[0-9a-f]{64}")
_TRUE = frozenset({"true", "yes", "y", "1", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "f", ""})


class RowError(ValueError):
    """One consent row is invalid; the message is the reason shown to the user."""


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _date(value: Any, name: str) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = _text(value)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RowError(f"{name} {text!r} is not a date (YYYY-MM-DD)") from None


def _purposes(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        items: Iterable[Any] = value.split(";")
    elif isinstance(value, list | tuple):
        items = value
    elif value is None:
        items = ()
    else:
        raise RowError(f"purposes {value!r} is not a list")
    found: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise RowError(f"purpose {item!r} is not text")
        name = item.strip()
        if len(name) > 128:
            raise RowError(f"purpose {name[:20]!r}... is longer than 128 characters")
        if name and name not in found:
            found.append(name)
    if not found:
        raise RowError("purposes is empty: name at least one purpose")
    return tuple(found)


def _informed(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise RowError(f"informed {value!r} is not true or false")


def _subject(value: Any) -> int | None:
    if isinstance(value, bool):
        raise RowError(f"subject_id {value!r} is not a positive integer")
    if isinstance(value, int):
        number = value
    else:
        text = _text(value)
        if text is None:
            return None
        if not text.isdigit():
            raise RowError(f"subject_id {text!r} is not a positive integer")
        number = int(text)
    if number <= 0:
        raise RowError(f"subject_id {value!r} is not a positive integer")
    return number


def validate_consent(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The ``consents`` column values for one consent, or :class:`RowError` saying why not.

    ``raw`` holds :data:`FIELDS` as text (a CSV row: purposes ``;``-separated) or as values
    (a JSON object: purposes a list, informed a boolean). ``granted`` is required.
    """
    owner_id = _text(raw.get("owner_id"))
    if owner_id is not None and len(owner_id) > 128:
        raise RowError("owner_id is longer than 128 characters")
    subject_id = _subject(raw.get("subject_id"))
    if owner_id is None and subject_id is None:
        raise RowError("a consent must name owner_id or subject_id")
    form = (_text(raw.get("form")) or "").lower()
    if form not in CONSENT_FORMS:
        shown = raw.get("form")
        raise RowError(f"form {shown!r} is not one of {', '.join(CONSENT_FORMS)}")
    granted = _date(raw.get("granted"), "granted")
    if granted is None:
        raise RowError("granted is missing (YYYY-MM-DD)")
    expires = _date(raw.get("expires"), "expires")
    revoked = _date(raw.get("revoked"), "revoked")
    if expires is not None and expires <= granted:
        raise RowError(f"expires {expires.isoformat()} is not after granted {granted.isoformat()}")
    if revoked is not None and revoked < granted:
        raise RowError(f"revoked {revoked.isoformat()} is before granted {granted.isoformat()}")
    evidence_uri = _text(raw.get("evidence_uri"))
    if evidence_uri is not None and len(evidence_uri) > 2048:
        raise RowError("evidence_uri is longer than 2048 characters")
    sha = _text(raw.get("evidence_sha256"))
    if sha is not None:
        sha = sha.lower()
        if not _SHA256.fullmatch(sha):
            raise RowError(f"evidence_sha256 {raw.get('evidence_sha256')!r} is not 64 hex digits")
    return {
        "owner_id": owner_id, "subject_id": subject_id, "form": form,
        "purposes": list(_purposes(raw.get("purposes"))), "informed": _informed(raw.get("informed")),
        "granted": granted, "expires": expires, "revoked": revoked,
        "evidence_uri": evidence_uri, "evidence_sha256": sha,
    }  # fmt: skip


def read_consent_rows(path: Path, data: bytes) -> Iterator[tuple[int, Mapping[str, Any] | str]]:
    """``(line, row)`` for each record; ``row`` is the reason text when it cannot be parsed."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    suffix = path.suffix.lower()
    if suffix == ".csv":
        reader = csv.DictReader(text.splitlines(keepends=True))
        names = [n.strip().lower() for n in reader.fieldnames or []]
        missing = [n for n in ("form", "purposes", "granted") if n not in names]
        if "owner_id" not in names and "subject_id" not in names:
            missing.append("owner_id or subject_id")
        if missing:
            raise ManifestError(f"{path}:1: missing column(s) {', '.join(missing)}")
        reader.fieldnames = names
        for row in reader:  # line_num: the record's last line (blank lines are skipped)
            if None in row:
                yield reader.line_num, f"{len(row[None])} more value(s) than columns"
            else:
                yield reader.line_num, row
        return
    if suffix in (".jsonl", ".ndjson", ".json"):
        for line, text_line in enumerate(text.splitlines(), start=1):
            if not text_line.strip():
                continue
            try:
                document = json.loads(text_line)
            except json.JSONDecodeError as exc:
                yield line, f"not valid JSON ({exc.msg} at column {exc.colno})"
                continue
            if not isinstance(document, dict):
                yield line, "not a JSON object"
                continue
            yield line, {str(k).strip().lower(): v for k, v in document.items()}
        return
    raise ManifestError(f"{path}: unknown consent file type {suffix or '(none)'!r}: use .csv or .jsonl")
