"""Policy use cases: load the laws, read a scenario file, evaluate it, render the answer.

Example::

    policies = laws_for(settings)           # THE law set: shipped + settings.policy_dir
    service = PolicyService(policy_dir=None)
    decision = service.evaluate_file(Path("scenario.json"))
    print(render_decision(decision))

Thin: the rules live in :mod:`faceledger.core.law` and the scenario document's one codec in
:mod:`faceledger.core.law.codec`; this module only adds the raw evidence clues' resolution
through :mod:`faceledger.geo` and file reading, and raises
:class:`~faceledger.errors.PolicyError` naming the field for any bad input.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from faceledger.core.law import (
    Decision,
    Evidence,
    Policy,
    Scenario,
    evaluate,
    load_policies,
    render_decision,
)
from faceledger.core.law.codec import (
    CONSENT_KEYS,
    SCENARIO_KEYS,
    SUBJECT_KEYS,
    decode_scenario,
    fail,
    read_code,
    read_number,
    scenario_mode,
)
from faceledger.errors import PolicyError
from faceledger.geo import (
    BoundaryIndex,
    evidence_from_declaration,
    evidence_from_geotag,
    evidence_from_place_text,
)

__all__ = ["CONSENT_KEYS", "SCENARIO_KEYS", "SUBJECT_KEYS", "parse_scenario", "read_scenario_file"]


def geo_evidence_reader(
    index: BoundaryIndex | None = None,
) -> Callable[[Mapping[str, Any], str], Evidence]:
    """Resolves a raw evidence clue (geotag, owner-location text, declared code) through
    :mod:`faceledger.geo`: the ``read_evidence`` of :func:`~faceledger.core.law.codec.decode_scenario`."""

    def read(item: Mapping[str, Any], field: str) -> Evidence:
        kind = item.get("kind")
        if kind == "geotag":
            lat = read_number(item.get("lat"), f"{field}.lat", float)
            lon = read_number(item.get("lon"), f"{field}.lon", float)
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise fail(field, f"lat/lon ({lat}, {lon}) out of range")
            accuracy = item.get("accuracy")
            acc = None if accuracy is None else read_number(accuracy, f"{field}.accuracy", int)
            return evidence_from_geotag(latitude=lat, longitude=lon, accuracy=acc, index=index)
        if kind == "owner-location":
            text = item.get("text")
            if not isinstance(text, str):
                raise fail(f"{field}.text", "must be a string")
            return evidence_from_place_text(text)
        if kind == "declared":
            code = read_code(item.get("code"), f"{field}.code")
            if code is None:
                raise fail(f"{field}.code", "is required")
            return evidence_from_declaration(code)
        raise fail(f"{field}.kind", f"{kind!r} is not one of geotag, owner-location, declared")

    return read


def parse_scenario(data: Any, *, index: BoundaryIndex | None = None) -> Scenario:
    """Turn a scenario document (parsed JSON) into a :class:`Scenario`; PolicyError if bad.

    The codec is :func:`faceledger.core.law.codec.decode_scenario`; raw evidence clues are
    resolved through :mod:`faceledger.geo` (with ``index``), resolved items kept as they are.
    """
    return decode_scenario(data, read_evidence=geo_evidence_reader(index))


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
                return (
                    f"line {line}, column {column}: nested deeper than {_SCENARIO_MAX_DEPTH} levels"
                )
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


def _folder_state(folder: Path | None) -> tuple[tuple[str, int, int], ...]:
    """What a cached law set depends on: each YAML file's name, size and mtime."""
    if folder is None or not folder.is_dir():
        return ()
    return tuple(
        (f.name, f.stat().st_size, f.stat().st_mtime_ns)
        for f in sorted(folder.iterdir())
        if f.suffix in (".yaml", ".yml")
    )


_LAWS: dict[tuple[Path | None, tuple[tuple[str, int, int], ...]], list[Policy]] = {}


def laws_for(settings: Any) -> list[Policy]:
    """The one law set of a deployment: the shipped laws plus ``settings.policy_dir``.

    Every service that decides takes its ``policies`` from here, through the CLI's state, the
    portal or :class:`faceledger.FaceLedger`; no service falls back to the shipped laws
    alone, so a consent imported in the console is decided under the same laws as one
    imported with ``faceledger consent import``. Loaded once per folder state (a changed or
    added file is read again); a broken file raises
    :class:`~faceledger.errors.PolicyError` naming it (fail closed)."""
    folder = getattr(settings, "policy_dir", None)
    folder = Path(folder) if folder is not None else None
    key = (folder, _folder_state(folder))
    if key not in _LAWS:
        _LAWS[key] = load_policies(policy_dir=folder)
    return list(_LAWS[key])


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
        mode = scenario_mode(data)
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
