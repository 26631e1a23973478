"""Why a release version holds fewer faces than the ledger: the faces withheld, counted per
reason, law and section, with what would supply what is missing (issue 13 item 6).

Example::

    withheld = explain_withheld(conn, by_photo, purpose="train-face-recognition",
                                released=released_ids, release_report=report, policies=policies)
    withheld.to_dict()["release_blocked"]   # [{"law": "us-wa-mhmda", "section": "19.373.030(1)(b)",
                                            #   "faces": 1, "top_reasons": [...]}]
    withheld.hints                          # ["... --disclosure-basis consent|required-by-law ..."]

A face of a scanned photo is left out of a release for one of these reasons, counted once each
in this order: an erasure request excluded it (``excluded``); it has no decision for
``(purpose, extract-template)`` (``not_assessed``); that decision blocks it
(``extract_blocked``, by law and section from the stored decision); the law engine, asked for
action ``release``, blocks it (``release_blocked``, by law and section); or it is allowed but
another face in its photo is not, and a photo goes only whole (``held_with_photo``).

Also here: :func:`content_sha256`, what identifies a version's contents (its manifest sha256
with the version number and creation time left out), so that an identical re-cut is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import Connection, select

from faceledger.core.law.decision import IN_SCOPE
from faceledger.core.law.schema import Policy
from faceledger.store.tables import DECISION_OUTCOMES, DECISIONS, OUTCOMES, chunks

TOP_REASONS = 3
NO_BASIS = "no disclosure basis given"  # core/law/rules.basis_problem
NO_SHARE = "sharing needs its own consent"  # core/law/rules.sharing_problem
SHARE_HINT = (
    "the person's own consent to share, separate from the consent to collect "
    "(faceledger consent add --claim ID --purpose share ...), then --disclosure-basis consent"
)


@dataclass
class Withheld:
    """Faces of scanned photos not in a version, by reason (see the module docs)."""

    purpose: str
    considered: int = 0
    released: int = 0
    excluded: int = 0
    not_assessed: int = 0
    extract_blocked: list[dict[str, Any]] = field(default_factory=list)
    extract_blocked_faces: int = 0
    release_blocked: list[dict[str, Any]] = field(default_factory=list)
    release_blocked_faces: int = 0
    held_with_photo: int = 0
    redacted: int = 0  # of the withheld faces, shown pixelated in released images
    hints: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose, "considered": self.considered, "released": self.released,
            "excluded": self.excluded, "not_assessed": self.not_assessed,
            "extract_blocked_faces": self.extract_blocked_faces,
            "extract_blocked": self.extract_blocked,
            "release_blocked_faces": self.release_blocked_faces,
            "release_blocked": self.release_blocked, "held_with_photo": self.held_with_photo,
            "redacted": self.redacted, "hints": self.hints,
        }  # fmt: skip

    def lines(self) -> list[str]:
        """The explanation as lines for the terminal (empty when nothing was withheld)."""
        withheld = self.considered - self.released
        if withheld <= 0:
            return []
        out = [f"withheld {withheld:,} of {self.considered:,} faces of scanned photos:"]
        if self.redacted:
            out[0] = (
                out[0].removesuffix(":")
                + f" ({self.redacted:,} of them pixelated in the released images):"
            )
        if self.excluded:
            out.append(f"  {self.excluded:,} excluded by an executed request")
        if self.not_assessed:
            out.append(f"  {self.not_assessed:,} never assessed for {self.purpose!r}")
        for title, faces, rows in (
            (f"blocked for {self.purpose!r} (extract-template)", self.extract_blocked_faces, self.extract_blocked),
            ("blocked for release (a disclosure)", self.release_blocked_faces, self.release_blocked),
        ):  # fmt: skip
            if not faces:
                continue
            out.append(f"  {faces:,} {title}:")
            for row in rows:
                out.append(f"    {row['law']} {row['section']}: {row['faces']:,} faces")
                out.extend(f"      - {r['reason']} ({r['faces']:,})" for r in row["top_reasons"])
        if self.held_with_photo:
            out.append(f"  {self.held_with_photo:,} allowed, but another face in the same photo is not "
                       "(a photo is released only whole; --images redacted pixelates the others)")  # fmt: skip
        out.extend(f"to release more: {hint}" for hint in self.hints)
        return out


def _rows(
    blocked: Counter[tuple[str, str]], reasons: dict[tuple[str, str], Counter[str]]
) -> list[dict[str, Any]]:
    return [
        {"law": law, "section": section, "faces": count,
         "top_reasons": [{"reason": r, "faces": n} for r, n in reasons[(law, section)].most_common(TOP_REASONS)]}
        for (law, section), count in sorted(blocked.items(), key=lambda item: (-item[1], item[0]))
    ]  # fmt: skip


def _tally(
    results: list[dict[str, Any]],
) -> tuple[Counter[tuple[str, str]], dict[tuple[str, str], Counter[str]]]:
    """Faces blocked per (law, section) and their reasons, from stored decision results."""
    blocked: Counter[tuple[str, str]] = Counter()
    reasons: dict[tuple[str, str], Counter[str]] = {}
    for result in results:
        in_scope = IN_SCOPE[str(result.get("mode", "conservative"))]
        seen: set[tuple[str, str]] = set()
        for law in result.get("laws", []):
            if law.get("applies") not in in_scope:
                continue
            for violation in law.get("violations", []):
                key = (str(law["id"]), str(violation["section"]))
                reasons.setdefault(key, Counter())[str(violation["reason"])] += 1
                if key not in seen:
                    seen.add(key)
                    blocked[key] += 1
    return blocked, reasons


def _decisions(conn: Connection, face_ids: list[int], purpose: str, action: str) -> dict[int, Any]:
    """face id -> (decision, result) of the stored decisions for (purpose, action)."""
    found: dict[int, Any] = {}
    for chunk in chunks(face_ids):
        for row in conn.execute(
            select(DECISIONS.c.face_id, DECISIONS.c.decision, OUTCOMES.c.result)
            .select_from(DECISION_OUTCOMES).where(
                DECISIONS.c.face_id.in_(chunk),
                DECISIONS.c.purpose == purpose, DECISIONS.c.action == action,
            )
        ):  # fmt: skip
            result = row.result if isinstance(row.result, dict) else json.loads(row.result or "{}")
            found[int(row.face_id)] = (row.decision, result)
    return found


def explain_withheld(
    conn: Connection, by_photo: dict[int, list[Any]], *, purpose: str, released: set[int],
    redacted: set[int], release_asked: list[int], policies: list[Policy],
    extract_action: str, release_action: str,
) -> Withheld:  # fmt: skip
    """Count the faces of ``by_photo`` (scanned photos' faces with their allowing extract
    decision, see ``releases._candidates``) not in ``released`` (or ``redacted``), by reason.
    ``release_asked``: the faces the law engine was asked about for action ``release`` (their
    decisions were just recorded in ``conn``); ``redacted``: withheld faces an ``--images
    redacted`` version shows pixelated (counted by reason like the others, and apart)."""
    faces = [f for fs in by_photo.values() for f in fs]
    out = Withheld(purpose=purpose, considered=len(faces), released=len(released))
    ids = [int(f.face_id) for f in faces]
    extract = _decisions(conn, [i for i, f in zip(ids, faces, strict=True) if f.decision_id is None], purpose,
                         extract_action)  # fmt: skip
    asked = set(release_asked)
    release = _decisions(conn, sorted(asked), purpose, release_action)
    blocked_extract, blocked_release = [], []
    for face_id, face in zip(ids, faces, strict=True):
        if face_id in released:
            continue
        out.redacted += face_id in redacted
        if face.excluded_request_id is not None:
            out.excluded += 1
        elif face.decision_id is None:
            if face_id in extract:
                blocked_extract.append(extract[face_id][1])
            else:
                out.not_assessed += 1
        elif face_id in release and release[face_id][0] != "allow":
            blocked_release.append(release[face_id][1])
        else:
            out.held_with_photo += 1
    tally, reasons = _tally(blocked_extract)
    out.extract_blocked, out.extract_blocked_faces = _rows(tally, reasons), len(blocked_extract)
    tally, reasons = _tally(blocked_release)
    out.release_blocked, out.release_blocked_faces = _rows(tally, reasons), len(blocked_release)
    out.hints = _hints(out, policies)
    return out


def _hints(out: Withheld, policies: list[Policy]) -> list[str]:
    """How to supply what is missing, from the reasons counted."""
    hints = []
    if out.not_assessed:
        hints.append(f"faceledger assess --purpose {out.purpose} decides the faces never assessed")
    if out.extract_blocked_faces:
        hints.append("faceledger explain FACE_ID shows a blocked face's reasons; a claim and the "
                     "person's own consent (faceledger claim add, consent add) can lift them")  # fmt: skip

    def citing(text: str) -> list[dict[str, Any]]:
        return [
            r for r in out.release_blocked if any(text in t["reason"] for t in r["top_reasons"])
        ]

    needs_basis, needs_share = citing(NO_BASIS), citing(NO_SHARE)
    if needs_basis:
        by_id = {p.id: p for p in policies}
        bases: list[str] = []
        separate = []
        for row in needs_basis:
            rule = by_id[row["law"]].disclosure if row["law"] in by_id else None
            if rule is None:
                continue
            bases.extend(
                b.basis for b in rule.bases if b.purposes is None or out.purpose in b.purposes
            )
            if rule.separate_consent:
                separate.append(f"{row['law']} {row['section']}")
        choices = "|".join(dict.fromkeys(bases)) or "consent"
        hint = (f"state the basis of the disclosure: faceledger release create ... --disclosure-basis "
                f"{choices} (recorded on the version and audited; only a basis that is true)")  # fmt: skip
        if separate:
            hint += f"; under {', '.join(separate)} the consent basis needs {SHARE_HINT.split(', then')[0]}"
        hints.append(hint)
    if needs_share:
        where = ", ".join(f"{r['law']} {r['section']}" for r in needs_share)
        hints.append(f"{where}: {SHARE_HINT}")
    if out.release_blocked_faces and not (needs_basis or needs_share):
        hints.append(
            "faceledger explain FACE_ID --action release shows why a face may not be disclosed"
        )
    return hints


def content_sha256(table: pa.Table, files: dict[str, str], *, disclosure_basis: str | None) -> str:
    """What a version holds: its faces (the manifest without its ``version`` column), its
    other files (images) and its disclosure basis; the version number, the creation time and
    the Croissant card (which holds both) are left out."""
    body = pa.BufferOutputStream()
    pacsv.write_csv(table.drop_columns(["version"]), body)
    document = {
        "faces": hashlib.sha256(body.getvalue().to_pybytes()).hexdigest(),
        "files": {
            k: v
            for k, v in files.items()
            if k not in ("faces.parquet", "faces.csv", "croissant.json")
        },
        "disclosure_basis": disclosure_basis,
    }
    return hashlib.sha256(
        json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
