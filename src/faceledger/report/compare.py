"""What changed between two reports (``faceledger report --compare OLD.json``).

Example::

    changes = compare_reports(old_document, new_document)
    [c["text"] for c in changes["changes"]]
    # ['new faces: 27 -> 31 (+4)', 'new blocks: 25 -> 26 (+1)', ...]

Both documents are report JSON (:data:`faceledger.report.document.SCHEMA`). The headline
figures come first, in words ("new blocks", "erasures done"); then every other number that
moved, by its path in the document. Lists of records are keyed by their natural key (law,
id, uri) so that a law's row is compared with the same law's row.
"""

from __future__ import annotations

from typing import Any

from faceledger.errors import ReportFormatError
from faceledger.report.document import SCHEMA

#: Headline key -> (words, whether an increase is bad news).
HEADLINE_WORDS: dict[str, tuple[str, bool]] = {
    "photos": ("photos", False),
    "faces": ("new faces", False),
    "faces_assessed": ("faces assessed", False),
    "faces_blocked": ("new blocks", True),
    "faces_allowed": ("faces allowed", False),
    "bipa_faces_at_risk": ("faces at risk under BIPA", True),
    "faces_with_templates": ("faces with templates", False),
    "subjects": ("subjects", False),
    "subjects_erased": ("erasures done", False),
    "consents_active": ("active consents", False),
    "faces_covered_by_consent": ("faces covered by consent", False),
    "faces_measured": ("faces measured", False),
    "requests_open": ("open requests", True),
    "requests_overdue": ("overdue requests", True),
    "release_versions": ("release versions", False),
    "audit_events": ("audit events", False),
    "photos_in_sensitive_datasets": ("photos also in a dataset with sensitive labels", True),
    "templates_without_deadline": ("faces holding templates without a deadline", True),
    "photos_fetched": ("photos fetched", False),
    "photos_reserved": ("photos reserved by their rights holder (TDM opt-out)", False),
    "photos_fetch_failed": ("photos whose fetch failed", True),
}
#: Paths that always differ between two runs and say nothing about the data.
VOLATILE = ("generated_at", "as_of", "ledger", "audit.first_at", "audit.last_at")
NATURAL_KEYS = ("law", "id", "uri", "name")
MAX_OTHER = 60


def _flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list):
        key = next(
            (
                k
                for k in NATURAL_KEYS
                if value and all(isinstance(i, dict) and k in i for i in value)
            ),
            None,
        )
        if key is not None:
            for item in value:
                _flatten({k: v for k, v in item.items() if k != key}, f"{path}[{item[key]}]", out)
    elif isinstance(value, bool | int | float) or value is None:
        out[path] = value


def _check(doc: Any, name: str) -> None:
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ReportFormatError(f"{name} is not a faceledger report (expected schema {SCHEMA!r})")


def _signed(delta: float) -> str:
    return f"{delta:+,.0f}" if float(delta).is_integer() else f"{delta:+,.2f}"


def compare_reports(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The changes from ``old`` to ``new`` (a JSON-ready dict; ``changes`` headline first)."""
    _check(old, "the old report")
    _check(new, "the new report")
    changes: list[dict[str, Any]] = []
    old_head, new_head = old.get("headline", {}), new.get("headline", {})
    for key, (words, bad_if_up) in HEADLINE_WORDS.items():
        before, after = old_head.get(key, 0), new_head.get(key, 0)
        if before == after:
            continue
        delta = after - before
        changes.append({"path": f"headline.{key}", "old": before, "new": after, "delta": delta,
                        "alarm": bad_if_up and delta > 0,
                        "text": f"{words}: {before:,} -> {after:,} ({_signed(delta)})"})  # fmt: skip
    if old_head.get("audit_chain_ok") != new_head.get("audit_chain_ok"):
        ok = new_head.get("audit_chain_ok")
        changes.append({"path": "headline.audit_chain_ok", "old": old_head.get("audit_chain_ok"),
                        "new": ok, "delta": None, "alarm": not ok,
                        "text": "audit chain: " + ("intact again" if ok else "now BROKEN")})  # fmt: skip
    before_all: dict[str, Any] = {}
    after_all: dict[str, Any] = {}
    _flatten({k: v for k, v in old.items() if k != "headline"}, "", before_all)
    _flatten({k: v for k, v in new.items() if k != "headline"}, "", after_all)
    other = []
    for path in sorted(set(before_all) | set(after_all)):
        if path.startswith(VOLATILE):
            continue
        before, after = before_all.get(path), after_all.get(path)
        if before == after or isinstance(before, bool) or isinstance(after, bool):
            continue
        if isinstance(before, int | float | None) and isinstance(after, int | float | None):
            delta = (after or 0) - (before or 0)
            other.append({"path": path, "old": before, "new": after, "delta": delta, "alarm": False,
                          "text": f"{path}: {_n(before)} -> {_n(after)} ({_signed(delta)})"})  # fmt: skip
    return {
        "old": {"generated_at": old.get("generated_at"), "as_of": old.get("as_of")},
        "new": {"generated_at": new.get("generated_at"), "as_of": new.get("as_of")},
        "changes": changes + other[:MAX_OTHER],
        "more": max(0, len(other) - MAX_OTHER),
    }


def _n(value: Any) -> str:
    return "none" if value is None else f"{value:,}"
