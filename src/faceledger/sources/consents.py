"""Consent records as they arrive: parsing files (CSV, JSON Lines) and validating values.

Pure of the ledger. Example::

    for line, row in read_consent_rows(Path("consents.csv"), data):
        values = validate_consent(row)      # or RowError, with the reason shown to the user

:mod:`faceledger.services.people.consent` records what passes and reports what does not, with file
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

from faceledger.core.law.model import CONSENT_FORMS, CONSENT_KINDS, GIVEN_BY
from faceledger.errors import ManifestError, RowError

FIELDS = (
    "owner_id", "subject_id", "form", "purposes", "informed", "granted", "expires", "revoked",
    "evidence_uri", "evidence_sha256", "given_by", "relationship", "kind", "purchaser",
    "signer", "signed_on", "claims",
)  # fmt: skip
#: Why a subject's or representative's consent must name its signer and evidence.
EVIDENCE_RULE = (
    "a consent given by the depicted person or their legal representative must show who "
    "signed it, when, and the signed evidence: give signer, signed_on and evidence_sha256 "
    "(a release the photo owner holds counts only as the depicted person's own signed release)"
)
_SHA256 = re.compile(r"[0-9a-f]{64}")
_TRUE = frozenset({"true", "yes", "y", "1", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "f", ""})


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


def _claims(value: Any) -> list[int]:
    if value is None or value == "":
        return []
    items = value.split(";") if isinstance(value, str) else value
    if isinstance(items, int) and not isinstance(items, bool):
        items = [items]
    if not isinstance(items, list | tuple):
        raise RowError(f"claims {value!r} is not a list of claim ids")
    found: list[int] = []
    for item in items:
        text = str(item).strip() if not isinstance(item, bool) else "x"
        if not text:
            continue
        if not text.isdigit() or int(text) <= 0:
            raise RowError(f"claim id {item!r} is not a positive integer")
        if int(text) not in found:
            found.append(int(text))
    return found


def _bounded(raw: Mapping[str, Any], name: str, limit: int) -> str | None:
    value = _text(raw.get(name))
    if value is not None and len(value) > limit:
        raise RowError(f"{name} is longer than {limit} characters")
    return value


def validate_consent(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The ``consents`` column values for one consent, or :class:`RowError` saying why not.

    ``raw`` holds :data:`FIELDS` as text (a CSV row: purposes and claims ``;``-separated) or
    as values (a JSON object: lists, informed a boolean). ``granted`` is required. ``given_by``
    defaults to ``photo-owner`` when an ``owner_id`` is named, else ``subject``. The result's
    ``claims`` (claim ids) is not a column: the service links them in ``consent_claims``.
    """
    owner_id = _bounded(raw, "owner_id", 128)
    subject_id = _subject(raw.get("subject_id"))
    claims = _claims(raw.get("claims"))
    given_by = (_text(raw.get("given_by")) or ("photo-owner" if owner_id else "subject")).lower()
    if given_by not in GIVEN_BY:
        raise RowError(f"given_by {raw.get('given_by')!r} is not one of {', '.join(GIVEN_BY)}")
    if given_by == "photo-owner":
        if owner_id is None:
            raise RowError("a photo-owner consent must name owner_id")
        if claims:
            raise RowError("a photo-owner consent covers the owner's own claimed face, not "
                           "claims: record claims' consents as given by the subject")  # fmt: skip
    elif owner_id is not None:
        raise RowError(f"owner_id names a photo owner: a {given_by} consent covers claims or a "
                       "subject, never an owner's photos")  # fmt: skip
    elif not claims and subject_id is None:
        raise RowError("a consent must name the claimed faces (claims) or subject_id it "
                       "covers, or owner_id for a photo-owner consent")  # fmt: skip
    relationship = _bounded(raw, "relationship", 64)
    if given_by == "legal-representative" and relationship is None:
        raise RowError("a legal-representative consent must give the relationship (e.g. parent)")
    kind = (_text(raw.get("kind")) or "consent").lower()
    if kind not in CONSENT_KINDS:
        raise RowError(f"kind {raw.get('kind')!r} is not one of {', '.join(CONSENT_KINDS)}")
    purchaser = _bounded(raw, "purchaser", 256)
    if kind == "sale-authorization" and purchaser is None:
        raise RowError("a sale-authorization must name the purchaser")
    signer = _bounded(raw, "signer", 256)
    signed_on = _date(raw.get("signed_on"), "signed_on")
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
    refusal = form == "none"
    if given_by != "photo-owner" and not refusal and not (signer and signed_on and sha):
        raise RowError(EVIDENCE_RULE)
    return {
        "owner_id": owner_id, "subject_id": subject_id, "form": form,
        "purposes": list(_purposes(raw.get("purposes"))), "informed": _informed(raw.get("informed")),
        "granted": granted, "expires": expires, "revoked": revoked,
        "evidence_uri": evidence_uri, "evidence_sha256": sha, "given_by": given_by,
        "relationship": relationship, "kind": kind, "purchaser": purchaser, "signer": signer,
        "signed_on": signed_on, "claims": claims,
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
        if not {"owner_id", "subject_id", "claims"} & set(names):
            missing.append("owner_id, subject_id or claims")
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
    raise ManifestError(
        f"{path}: unknown consent file type {suffix or '(none)'!r}: use .csv or .jsonl"
    )
