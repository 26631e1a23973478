"""The one codec of :class:`Scenario`: to the ``policy evaluate`` document and back.

Example::

    document = encode_scenario(scenario, mode="conservative")   # JSON-ready dict
    assert decode_scenario(document) == scenario                  # exact round trip

    # a document written by hand names raw clues (a geotag's lat/lon, owner text); the
    # caller turns them into Evidence (faceledger.geo does, so this module stays pure):
    decode_scenario(data, read_evidence=resolve_with_geo)

The document is a public contract (``faceledger policy evaluate SCENARIO.json``, the
``scenario`` column of ``decision_outcomes``): add keys, never rename or remove them. Keys:
:data:`SCENARIO_KEYS`, a subject's :data:`SUBJECT_KEYS`, a consent's :data:`CONSENT_KEYS`.

Evidence items come in two shapes:

- *resolved* (what :func:`encode_evidence` writes): ``{"kind", "code", "confidence",
  "detail"}``, any :data:`~faceledger.core.law.model.EVIDENCE_KINDS` kind; a ``confidence``
  key marks an item as resolved, and it decodes to the same :class:`Evidence`;
- *raw* clues: ``geotag`` (``lat``, ``lon``, ``accuracy``), ``owner-location`` (``text``),
  ``declared`` (``code``). They need ``read_evidence`` (``faceledger.geo`` resolves them);
  without it a raw item is refused, naming the field. :func:`encode_scenario` writes raw
  clues when the caller passes them as ``evidence=`` (assess stores what a person can
  replay by hand).

Any bad input raises :class:`~faceledger.errors.PolicyError` naming the field
(``scenario field 'consents[0].form': ...``). Blank strings in ``relationship`` and
``purchaser`` read as absent, and ``purpose`` is stripped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from typing import Any, TypeVar, cast

from faceledger.core.law.decision import Mode
from faceledger.core.law.model import (
    ACTIONS,
    CONSENT_FORMS,
    CONSENT_KINDS,
    DISCLOSURE_BASES,
    EVIDENCE_KINDS,
    GIVEN_BY,
    SOURCES,
    Consent,
    Evidence,
    Processor,
    Scenario,
    Subject,
)
from faceledger.errors import PolicyError

T = TypeVar("T")
#: Reads one raw evidence item (``item``, its field name for errors) into resolved Evidence.
EvidenceReader = Callable[[Mapping[str, Any], str], Evidence]

MODES: tuple[str, ...] = ("conservative", "likely")
SCENARIO_KEYS = frozenset({
    "action", "purpose", "date", "processor", "subject", "consents", "collected",
    "last_interaction", "purpose_fulfilled", "disclosure_basis", "source", "derived_from_photo",
    "mode", "retention_schedule_published", "tdm_reserved", "sensitive_labels",
})  # fmt: skip
CONSENT_KEYS = frozenset({
    "form", "purposes", "informed", "granted", "expires", "revoked", "given_by",
    "relationship", "kind", "purchaser", "signed",
})  # fmt: skip
SUBJECT_KEYS = frozenset({"residence", "evidence", "minor", "age", "is_photo_owner"})
RESOLVED_EVIDENCE_KEYS = frozenset({"kind", "code", "confidence", "detail"})
_ISO = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")
_LABEL = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


# -- encoding ---------------------------------------------------------------------------


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def encode_evidence(evidence: Evidence) -> dict[str, Any]:
    """Resolved evidence as a document item (confidence unrounded: the round trip is exact)."""
    return {
        "kind": evidence.kind,
        "code": evidence.code,
        "confidence": evidence.confidence,
        "detail": evidence.detail,
    }


def encode_consent(consent: Consent) -> dict[str, Any]:
    """A consent as a scenario item (every :data:`CONSENT_KEYS` key)."""
    return {
        "form": consent.form, "purposes": list(consent.purposes), "informed": consent.informed,
        "granted": _iso(consent.granted), "expires": _iso(consent.expires),
        "revoked": _iso(consent.revoked), "given_by": consent.given_by,
        "relationship": consent.relationship, "kind": consent.kind,
        "purchaser": consent.purchaser, "signed": consent.signed,
    }  # fmt: skip


def encode_scenario(
    scenario: Scenario,
    *,
    mode: str | None = None,
    evidence: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """``scenario`` as a ``policy evaluate`` document. ``mode`` adds the ``mode`` key;
    ``evidence`` replaces the subject's resolved evidence by the raw clues it came from."""
    subject = scenario.subject
    document: dict[str, Any] = {
        "action": scenario.action,
        "purpose": scenario.purpose,
        "date": scenario.on.isoformat(),
    }
    if mode is not None:
        document["mode"] = mode
    document.update({
        "processor": {"location": scenario.processor.location,
                      "commercial": scenario.processor.commercial},
        "subject": {
            "residence": subject.residence,
            "evidence": [dict(item) for item in evidence] if evidence is not None
            else [encode_evidence(e) for e in subject.evidence],
            "minor": subject.minor, "age": subject.age, "is_photo_owner": subject.is_photo_owner,
        },
        "consents": [encode_consent(c) for c in scenario.consents],
        "collected": _iso(scenario.collected),
        "last_interaction": _iso(scenario.last_interaction),
        "purpose_fulfilled": _iso(scenario.purpose_fulfilled),
        "disclosure_basis": scenario.disclosure_basis,
        "source": scenario.source,
        "derived_from_photo": scenario.derived_from_photo,
        "retention_schedule_published": _iso(scenario.retention_schedule_published),
        "tdm_reserved": scenario.tdm_reserved,
        "sensitive_labels": list(scenario.sensitive_labels),
    })  # fmt: skip
    return document


# -- decoding ---------------------------------------------------------------------------


def fail(field: str, message: str) -> PolicyError:
    """The error for one bad field: ``scenario field 'FIELD': MESSAGE``."""
    return PolicyError(f"scenario field '{field}': {message}")


def read_date(value: Any, field: str, *, required: bool = False) -> date | None:
    if value is None:
        if required:
            raise fail(field, "is required (an ISO date, YYYY-MM-DD)")
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise fail(field, f"{value!r} is not an ISO date (YYYY-MM-DD)") from None


def read_choice(value: Any, field: str, choices: tuple[str, ...], *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if value not in choices:
        raise fail(field, f"{value!r} is not one of {', '.join(choices)}")
    return value


def read_code(value: Any, field: str) -> str | None:
    """An ISO 3166 code (``US-IL``, ``DE``) or None."""
    if value is None:
        return None
    if not isinstance(value, str) or not _ISO.match(value):
        raise fail(field, f"{value!r} is not an ISO 3166 code like 'US-IL', 'DE' or 'GB'")
    return value


def read_mapping(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise fail(field, "must be an object")
    return cast(dict[str, Any], value)


def read_list(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise fail(field, "must be a list")
    return value


def read_bool(value: Any, field: str, *, default: bool | None) -> bool | None:
    """A JSON boolean; absent/null gives ``default`` (None: the value stays unknown)."""
    if value is None:
        return default
    if not isinstance(value, bool):
        raise fail(field, f"{value!r} must be true or false")
    return value


def read_text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise fail(field, f"{value!r} must be a string")
    return value.strip() or None


def check_keys(item: Mapping[str, Any], field: str, allowed: frozenset[str]) -> None:
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise fail(f"{field}.{unknown[0]}", f"unknown key (allowed: {', '.join(sorted(allowed))})")


def read_number(value: Any, field: str, convert: Callable[[Any], T]) -> T:
    if isinstance(value, bool) or value is None:
        raise fail(field, "must be a number")
    try:
        return convert(value)
    except (TypeError, ValueError):
        raise fail(field, f"{value!r} is not a number") from None


def _given(item: Mapping[str, Any], key: str, default: str) -> Any:
    """``item[key]``, or ``default`` when the key is absent or null (never for ``""``)."""
    value = item.get(key)
    return default if value is None else value


def decode_evidence(item: Any, field: str, read_evidence: EvidenceReader | None = None) -> Evidence:
    """One evidence item: resolved (has ``confidence``) or raw (through ``read_evidence``)."""
    data = read_mapping(item, field)
    if "confidence" not in data:
        if read_evidence is None:
            raise fail(f"{field}.confidence", "is required (a resolved item: kind, code, "
                       "confidence, detail; raw geotag/owner-location clues need faceledger.geo)")  # fmt: skip
        return read_evidence(data, field)
    check_keys(data, field, RESOLVED_EVIDENCE_KEYS)
    kind = read_choice(data.get("kind"), f"{field}.kind", EVIDENCE_KINDS)
    confidence = read_number(data.get("confidence"), f"{field}.confidence", float)
    if not 0.0 <= confidence <= 1.0:
        raise fail(f"{field}.confidence", f"{confidence!r} must lie between 0 and 1")
    detail = data.get("detail", "")
    if not isinstance(detail, str):
        raise fail(f"{field}.detail", "must be a string")
    return Evidence(kind, read_code(data.get("code"), f"{field}.code"), confidence, detail)


def decode_consent(item: Any, field: str) -> Consent:
    data = read_mapping(item, field)
    check_keys(data, field, CONSENT_KEYS)
    purposes = read_list(data.get("purposes"), f"{field}.purposes")
    if not all(isinstance(p, str) for p in purposes):
        raise fail(f"{field}.purposes", "must be a list of strings")
    informed = data.get("informed", False)
    if not isinstance(informed, bool):
        raise fail(f"{field}.informed", "must be true or false")
    return Consent(
        form=read_choice(data.get("form"), f"{field}.form", CONSENT_FORMS),
        purposes=tuple(purposes),
        informed=informed,
        granted=read_date(data.get("granted"), f"{field}.granted"),
        expires=read_date(data.get("expires"), f"{field}.expires"),
        revoked=read_date(data.get("revoked"), f"{field}.revoked"),
        # absent or null: the subject (contract); likewise kind absent or null: a consent
        given_by=read_choice(_given(data, "given_by", "subject"), f"{field}.given_by", GIVEN_BY),
        relationship=read_text(data.get("relationship"), f"{field}.relationship"),
        kind=read_choice(_given(data, "kind", "consent"), f"{field}.kind", CONSENT_KINDS),
        purchaser=read_text(data.get("purchaser"), f"{field}.purchaser"),
        signed=read_bool(data.get("signed"), f"{field}.signed", default=None),
    )


def _age(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 150:
        raise fail(field, f"{value!r} must be a whole number of years (0-150)")
    return value


def _subject(data: Any, read_evidence: EvidenceReader | None) -> Subject:
    subject = read_mapping(data, "subject")
    check_keys(subject, "subject", SUBJECT_KEYS)
    evidence = tuple(
        decode_evidence(item, f"subject.evidence[{i}]", read_evidence)
        for i, item in enumerate(read_list(subject.get("evidence"), "subject.evidence"))
    )
    return Subject(
        residence=read_code(subject.get("residence"), "subject.residence"),
        evidence=evidence,
        minor=read_bool(subject.get("minor"), "subject.minor", default=None),
        age=_age(subject.get("age"), "subject.age"),
        is_photo_owner=bool(
            read_bool(subject.get("is_photo_owner"), "subject.is_photo_owner", default=False)
        ),
    )


def _labels(value: Any) -> tuple[str, ...]:
    labels = read_list(value, "sensitive_labels")
    for i, label in enumerate(labels):
        if not isinstance(label, str) or not _LABEL.match(label):
            raise fail(f"sensitive_labels[{i}]",
                       f"{label!r} is not an annotation kind like 'ethnic-group'")  # fmt: skip
    return tuple(labels)


def scenario_mode(data: Mapping[str, Any]) -> Mode:
    """The document's ``mode`` (absent: ``conservative``)."""
    return cast(Mode, read_choice(data.get("mode", "conservative"), "mode", MODES))


def decode_scenario(data: Any, *, read_evidence: EvidenceReader | None = None) -> Scenario:
    """Turn a scenario document (parsed JSON) into a :class:`Scenario`; PolicyError if bad.

    The inverse of :func:`encode_scenario` (``mode`` is read by :func:`scenario_mode`)."""
    if not isinstance(data, dict):
        raise PolicyError("scenario: the document must be a JSON object")
    unknown = sorted(set(data) - SCENARIO_KEYS)
    if unknown:
        raise fail(unknown[0], f"unknown key (allowed: {', '.join(sorted(SCENARIO_KEYS))})")
    action = read_choice(data.get("action"), "action", ACTIONS)
    purpose = data.get("purpose")
    if not isinstance(purpose, str) or not purpose.strip():
        raise fail("purpose", "is required (a string such as 'train-face-recognition')")
    processor = read_mapping(data.get("processor"), "processor")
    commercial = processor.get("commercial", True)
    if not isinstance(commercial, bool):
        raise fail("processor.commercial", "must be true or false")
    derived = data.get("derived_from_photo", True)
    if not isinstance(derived, bool):
        raise fail("derived_from_photo", "must be true or false")
    on = read_date(data.get("date"), "date", required=True)
    assert on is not None
    return Scenario(
        action=action,
        purpose=purpose.strip(),
        on=on,
        processor=Processor(
            location=read_code(processor.get("location"), "processor.location"),
            commercial=commercial,
        ),
        subject=_subject(data.get("subject"), read_evidence),
        consents=tuple(
            decode_consent(item, f"consents[{i}]")
            for i, item in enumerate(read_list(data.get("consents"), "consents"))
        ),
        collected=read_date(data.get("collected"), "collected"),
        last_interaction=read_date(data.get("last_interaction"), "last_interaction"),
        purpose_fulfilled=read_date(data.get("purpose_fulfilled"), "purpose_fulfilled"),
        disclosure_basis=read_choice(
            data.get("disclosure_basis"), "disclosure_basis", DISCLOSURE_BASES, optional=True
        ),
        source=read_choice(data.get("source"), "source", SOURCES, optional=True),
        derived_from_photo=derived,
        retention_schedule_published=read_date(
            data.get("retention_schedule_published"), "retention_schedule_published"
        ),
        tdm_reserved=bool(read_bool(data.get("tdm_reserved"), "tdm_reserved", default=False)),
        sensitive_labels=_labels(data.get("sensitive_labels")),
    )
