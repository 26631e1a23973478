"""Policy use cases: load the laws, read a scenario file, evaluate it, render the answer.

Example::

    service = PolicyService(policy_dir=None)
    decision = service.evaluate_file(Path("scenario.json"))
    print(render_decision(decision))

Thin: the rules live in :mod:`faceledger.core.law`; this module only turns JSON into the
engine's values (resolving geotags and place text through :mod:`faceledger.geo`) and raises
:class:`~faceledger.errors.PolicyError` naming the field for any bad input.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

from faceledger.core.law import (
    Consent,
    Decision,
    Evidence,
    Policy,
    Processor,
    Scenario,
    Subject,
    evaluate,
    load_policies,
    render_decision,
)
from faceledger.core.law.model import (
    ACTIONS,
    CONSENT_FORMS,
    CONSENT_KINDS,
    DISCLOSURE_BASES,
    GIVEN_BY,
    SOURCES,
)
from faceledger.errors import PolicyError
from faceledger.geo import (
    BoundaryIndex,
    evidence_from_declaration,
    evidence_from_geotag,
    evidence_from_place_text,
)
from faceledger.geo.iso import is_iso_code

T = TypeVar("T")
SCENARIO_KEYS = frozenset({
    "action", "purpose", "date", "processor", "subject", "consents", "collected",
    "last_interaction", "purpose_fulfilled", "disclosure_basis", "source", "derived_from_photo",
    "mode", "retention_schedule_published", "tdm_reserved",
})  # fmt: skip
CONSENT_KEYS = frozenset({
    "form", "purposes", "informed", "granted", "expires", "revoked", "given_by",
    "relationship", "kind", "purchaser", "signed",
})  # fmt: skip
SUBJECT_KEYS = frozenset({"residence", "evidence", "minor", "age", "is_photo_owner"})


def _fail(field: str, message: str) -> PolicyError:
    return PolicyError(f"scenario field '{field}': {message}")


def _date(value: Any, field: str, *, required: bool = False) -> date | None:
    if value is None:
        if required:
            raise _fail(field, "is required (an ISO date, YYYY-MM-DD)")
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _fail(field, f"{value!r} is not an ISO date (YYYY-MM-DD)") from None


def _choice(value: Any, field: str, choices: tuple[str, ...], *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if value not in choices:
        raise _fail(field, f"{value!r} is not one of {', '.join(choices)}")
    return value


def _code(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not is_iso_code(value):
        raise _fail(field, f"{value!r} is not an ISO 3166 code like 'US-IL', 'DE' or 'GB'")
    return value


def _mapping(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(field, "must be an object")
    return value


def _list(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(field, "must be a list")
    return value


def _bool(value: Any, field: str, *, default: bool | None) -> bool | None:
    """A JSON boolean; absent/null gives ``default`` (None: the value stays unknown)."""
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _fail(field, f"{value!r} must be true or false")
    return value


def _text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(field, f"{value!r} must be a string")
    return value.strip() or None


def _keys(item: dict[str, Any], field: str, allowed: frozenset[str]) -> None:
    unknown = sorted(set(item) - allowed)
    if unknown:
        raise _fail(f"{field}.{unknown[0]}",
                    f"unknown key (allowed: {', '.join(sorted(allowed))})")  # fmt: skip


def _number(value: Any, field: str, convert: Callable[[Any], T]) -> T:
    if isinstance(value, bool) or value is None:
        raise _fail(field, "must be a number")
    try:
        return convert(value)
    except (TypeError, ValueError):
        raise _fail(field, f"{value!r} is not a number") from None


def _evidence(item: Any, field: str, index: BoundaryIndex | None) -> Evidence:
    item = _mapping(item, field)
    kind = item.get("kind")
    if kind == "geotag":
        lat = _number(item.get("lat"), f"{field}.lat", float)
        lon = _number(item.get("lon"), f"{field}.lon", float)
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise _fail(field, f"lat/lon ({lat}, {lon}) out of range")
        accuracy = item.get("accuracy")
        acc = None if accuracy is None else _number(accuracy, f"{field}.accuracy", int)
        return evidence_from_geotag(latitude=lat, longitude=lon, accuracy=acc, index=index)
    if kind == "owner-location":
        text = item.get("text")
        if not isinstance(text, str):
            raise _fail(f"{field}.text", "must be a string")
        return evidence_from_place_text(text)
    if kind == "declared":
        code = _code(item.get("code"), f"{field}.code")
        if code is None:
            raise _fail(f"{field}.code", "is required")
        return evidence_from_declaration(code)
    raise _fail(f"{field}.kind", f"{kind!r} is not one of geotag, owner-location, declared")


def _given(item: dict[str, Any], key: str, default: str) -> Any:
    """``item[key]``, or ``default`` when the key is absent or null (never for ``""``)."""
    value = item.get(key)
    return default if value is None else value


def _consent(item: Any, field: str) -> Consent:
    item = _mapping(item, field)
    _keys(item, field, CONSENT_KEYS)
    purposes = _list(item.get("purposes"), f"{field}.purposes")
    if not all(isinstance(p, str) for p in purposes):
        raise _fail(f"{field}.purposes", "must be a list of strings")
    informed = item.get("informed", False)
    if not isinstance(informed, bool):
        raise _fail(f"{field}.informed", "must be true or false")
    return Consent(
        form=_choice(item.get("form"), f"{field}.form", CONSENT_FORMS),
        purposes=tuple(purposes),
        informed=informed,
        granted=_date(item.get("granted"), f"{field}.granted"),
        expires=_date(item.get("expires"), f"{field}.expires"),
        revoked=_date(item.get("revoked"), f"{field}.revoked"),
        # absent or null: the subject (contract); likewise kind absent or null: a consent
        given_by=_choice(_given(item, "given_by", "subject"), f"{field}.given_by", GIVEN_BY),
        relationship=_text(item.get("relationship"), f"{field}.relationship"),
        kind=_choice(_given(item, "kind", "consent"), f"{field}.kind", CONSENT_KINDS),
        purchaser=_text(item.get("purchaser"), f"{field}.purchaser"),
        signed=_bool(item.get("signed"), f"{field}.signed", default=None),
    )


def _age(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 150:
        raise _fail(field, f"{value!r} must be a whole number of years (0-150)")
    return value


def _subject(data: Any, index: BoundaryIndex | None) -> Subject:
    subject = _mapping(data, "subject")
    _keys(subject, "subject", SUBJECT_KEYS)
    evidence = tuple(
        _evidence(item, f"subject.evidence[{i}]", index)
        for i, item in enumerate(_list(subject.get("evidence"), "subject.evidence"))
    )
    return Subject(
        residence=_code(subject.get("residence"), "subject.residence"),
        evidence=evidence,
        minor=_bool(subject.get("minor"), "subject.minor", default=None),
        age=_age(subject.get("age"), "subject.age"),
        is_photo_owner=bool(
            _bool(subject.get("is_photo_owner"), "subject.is_photo_owner", default=False)
        ),
    )


def parse_scenario(data: Any, *, index: BoundaryIndex | None = None) -> Scenario:
    """Turn a scenario document (parsed JSON) into a :class:`Scenario`; PolicyError if bad."""
    if not isinstance(data, dict):
        raise PolicyError("scenario: the document must be a JSON object")
    unknown = sorted(set(data) - SCENARIO_KEYS)
    if unknown:
        raise _fail(unknown[0], f"unknown key (allowed: {', '.join(sorted(SCENARIO_KEYS))})")
    action = _choice(data.get("action"), "action", ACTIONS)
    purpose = data.get("purpose")
    if not isinstance(purpose, str) or not purpose.strip():
        raise _fail("purpose", "is required (a string such as 'train-face-recognition')")
    processor = _mapping(data.get("processor"), "processor")
    commercial = processor.get("commercial", True)
    if not isinstance(commercial, bool):
        raise _fail("processor.commercial", "must be true or false")
    derived = data.get("derived_from_photo", True)
    if not isinstance(derived, bool):
        raise _fail("derived_from_photo", "must be true or false")
    on = _date(data.get("date"), "date", required=True)
    assert on is not None
    return Scenario(
        action=action,
        purpose=purpose.strip(),
        on=on,
        processor=Processor(
            location=_code(processor.get("location"), "processor.location"),
            commercial=commercial,
        ),
        subject=_subject(data.get("subject"), index),
        consents=tuple(
            _consent(item, f"consents[{i}]")
            for i, item in enumerate(_list(data.get("consents"), "consents"))
        ),
        collected=_date(data.get("collected"), "collected"),
        last_interaction=_date(data.get("last_interaction"), "last_interaction"),
        purpose_fulfilled=_date(data.get("purpose_fulfilled"), "purpose_fulfilled"),
        disclosure_basis=_choice(
            data.get("disclosure_basis"), "disclosure_basis", DISCLOSURE_BASES, optional=True
        ),
        source=_choice(data.get("source"), "source", SOURCES, optional=True),
        derived_from_photo=derived,
        retention_schedule_published=_date(
            data.get("retention_schedule_published"), "retention_schedule_published"
        ),
        tdm_reserved=bool(_bool(data.get("tdm_reserved"), "tdm_reserved", default=False)),
    )


_SCENARIO_MAX_BYTES = 1 << 20  # a scenario is a few KB
_SCENARIO_MAX_DEPTH = 32  # the deepest real scenario nests 4 levels


def _json_depth_error(text: str) -> str | None:
    """``line L, column C: ...`` where ``text`` nests arrays/objects deeper than allowed."""
    depth, in_string, escaped, line, column = 0, False, False, 1, 0
    for char in text:
        column += 1
        if char == "\n":
            line, column = line + 1, 0
        elif in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > _SCENARIO_MAX_DEPTH:
                return f"line {line}, column {column}: nested deeper than {_SCENARIO_MAX_DEPTH} levels"
        elif char in "]}":
            depth -= 1
    return None


def read_scenario_file(path: Path) -> dict[str, Any]:
    """Read a scenario JSON file; PolicyError naming the file (and line) when it cannot be
    read: not UTF-8, too large, nested too deep or not JSON."""
    try:
        raw = Path(path).read_bytes()[: _SCENARIO_MAX_BYTES + 1]
    except OSError as exc:
        raise PolicyError(f"scenario file {path}: cannot read: {exc.strerror}") from None
    if len(raw) > _SCENARIO_MAX_BYTES:
        raise PolicyError(f"scenario file {path}: larger than {_SCENARIO_MAX_BYTES:,} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise PolicyError(f"scenario file {path}: line {line}: not valid UTF-8 "
                          f"(byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None  # fmt: skip
    too_deep = _json_depth_error(text)
    if too_deep:
        raise PolicyError(f"scenario file {path}: {too_deep}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyError(f"scenario file {path}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PolicyError(f"scenario file {path}: the document must be a JSON object")
    return data


class PolicyService:
    """Loads the laws once (shipped + ``policy_dir``) and answers scenario questions."""

    def __init__(
        self, *, policy_dir: Path | None = None, index: BoundaryIndex | None = None
    ) -> None:
        self.policy_dir = policy_dir
        self.index = index
        self._policies: list[Policy] | None = None

    @property
    def policies(self) -> list[Policy]:
        if self._policies is None:
            self._policies = load_policies(policy_dir=self.policy_dir)
        return self._policies

    def get(self, law_id: str) -> Policy:
        for policy in self.policies:
            if policy.id == law_id:
                return policy
        known = ", ".join(p.id for p in self.policies)
        raise PolicyError(f"no policy with id {law_id!r} (known: {known})")

    def evaluate_data(self, data: dict[str, Any]) -> Decision:
        mode = _choice(data.get("mode", "conservative"), "mode", ("conservative", "likely"))
        return evaluate(parse_scenario(data, index=self.index), self.policies, mode=mode)

    def evaluate_file(self, path: Path) -> Decision:
        return self.evaluate_data(read_scenario_file(path))

    def render(self, decision: Decision) -> str:
        return render_decision(decision)


def policy_summary(policy: Policy) -> dict[str, Any]:
    """The short listing of one law (for ``policy list``)."""
    return {
        "id": policy.id,
        "title": policy.title,
        "short_name": policy.short_name,
        "version": policy.version,
        "in_force_from": policy.in_force.starts.isoformat(),
        "consent": policy.consent.requirement,
        "private_right_of_action": policy.enforcement.private_right_of_action,
        "territory": policy.territory.codes,
        "citation": policy.citation,
    }


def policy_document(policy: Policy) -> dict[str, Any]:
    """The full policy as JSON-ready data (for ``policy show``)."""
    document: dict[str, Any] = policy.model_dump(mode="json", by_alias=True)
    return document
