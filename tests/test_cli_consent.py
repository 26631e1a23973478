"""`faceledger consent add / revoke / list / import` and `faceledger claim add / list / revoke`
through click's CliRunner, on SQLite and PostgreSQL. Faces come from the real scan run with
the fake detector (one face per photo): the detector is not the point here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from faceledger.cli import main
from faceledger.cli._common import CliState
from faceledger.store import Ledger, open_ledger
from faceledger.store.schema import AuditEvent, Face, FaceDecision, Photo

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FRT = "train-face-recognition"
CHICAGO = "70000001@N01"
ILLINOIS = {"FACELEDGER_PROCESSOR_LOCATION": "US-IL"}
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
SIGNED = ["--signer", "Pat Example", "--signed", "2025-01-10", "--evidence-sha256", SHA]


_OPENED: list[Ledger] = []


@pytest.fixture(autouse=True)
def _dispose_cli_ledgers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the ledgers the CLI opens, so :func:`_run` can close them.

    The CLI never disposes its ledger's engine; on PostgreSQL the pooled connection is then
    garbage-collected open, a ResourceWarning (an error here). Until the CLI closes it on
    exit (``ctx.call_on_close``), the tests do.
    """
    original = CliState.ledger

    def ledger(self: CliState, **options: Any) -> Ledger:
        handle = original(self, **options)
        if handle not in _OPENED:
            _OPENED.append(handle)
        return handle

    monkeypatch.setattr(CliState, "ledger", ledger)


def _run(url: str, *args: str, env: dict[str, str] | None = None) -> Result:
    try:
        return CliRunner().invoke(main, ["--database-url", url, *args], env=env)
    finally:
        while _OPENED:
            _OPENED.pop().dispose()


@pytest.fixture
def assessed_url(ledger_url: str, publish_schedule: Any, fake_scan: Any) -> str:
    """The example manifest ingested, one fake face per photo, assessed in Illinois (with a
    published retention schedule)."""
    assert _run(ledger_url, "ingest", str(EXAMPLES / "photos.csv"), "--json").exit_code == 0
    ledger = open_ledger(ledger_url)
    publish_schedule(ledger)
    fake_scan(ledger, ((0.0, 0.0, 50.0, 50.0),))
    ledger.dispose()
    result = _run(ledger_url, "assess", "--json", env=ILLINOIS)
    assert result.exit_code == 0, result.output
    return ledger_url


def _chicago_decisions(url: str) -> list[str]:
    ledger = open_ledger(url)
    decisions, faces, photos = FaceDecision.__table__, Face.__table__, Photo.__table__
    with ledger.read() as conn:
        rows = (
            conn.execute(
                select(decisions.c.decision)
                .join(faces, faces.c.id == decisions.c.face_id)
                .join(photos, photos.c.id == faces.c.photo_id)
                .where(photos.c.owner_id == CHICAGO, decisions.c.purpose == FRT)
            )
            .scalars()
            .all()
        )
    ledger.dispose()
    return list(rows)


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _claim(url: str, *args: str) -> dict[str, Any]:
    document = _json(_run(url, "claim", "add", "--photo", "ex-0001", "--face-index", "0",
                          "--by", "subject", *args, "--json"))  # fmt: skip
    return dict(document["claim"])


def test_an_owner_consent_alone_unlocks_no_one(assessed_url: str) -> None:
    result = _run(assessed_url, "consent", "add", "--owner", CHICAGO, "--form", "written",
                  "--purpose", FRT, "--informed", "--granted", "2025-01-10")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"({FRT}): 0 allowed, 1 blocked" in result.stdout
    assert _chicago_decisions(assessed_url) == ["block"]
    listed = _json(_run(assessed_url, "consent", "list", "--json"))["consents"]
    assert [c["given_by"] for c in listed] == ["photo-owner"]
    assert (
        "photo owner 70000001@N01 (own face only)" in _run(assessed_url, "consent", "list").stdout
    )


def test_claim_add_list_revoke_round_trip(assessed_url: str, tmp_path: Path) -> None:
    form = tmp_path / "claim.pdf"
    form.write_bytes(b"%PDF this is me")
    claim = _claim(assessed_url, "--evidence-file", str(form), "--signer", "Pat Example",
                   "--signed", "2025-01-10", "--age", "40")  # fmt: skip
    assert claim["status"] == "active" and claim["age"] == 40 and claim["minor"] is None
    assert claim["evidence"]["kind"] == "signed-form" and claim["evidence"]["verified"] is True
    assert len(claim["evidence"]["detail"]["sha256"]) == 64
    listed = _json(_run(assessed_url, "claim", "list", "--photo", "ex-0001", "--json"))["claims"]
    assert [c["id"] for c in listed] == [claim["id"]]
    text = _run(assessed_url, "claim", "list")
    assert f"face {claim['face_id']}" in text.stdout and "by subject" in text.stdout
    plain = _run(assessed_url, "claim", "add", "--face", str(claim["face_id"]), "--by",
                 "legal-representative", "--relationship", "parent", "--minor")  # fmt: skip
    assert plain.exit_code == 0, plain.output
    assert "evidence not verified" in plain.stdout and "receipt: " in plain.stdout
    revoked = _run(assessed_url, "claim", "revoke", claim["receipt"])
    assert revoked.exit_code == 0 and f"claim {claim['id']} of face" in revoked.stdout
    assert _json(_run(assessed_url, "claim", "list", "--status", "revoked", "--json"))["claims"][0][
        "id"] == claim["id"]  # fmt: skip
    missing = _run(assessed_url, "claim", "revoke", "nope")
    assert missing.exit_code == 2 and "no claim with id or receipt 'nope'" in missing.stderr
    bad = _run(
        assessed_url, "claim", "add", "--photo", "ex-0001", "--face-index", "5", "--by", "subject"
    )
    assert bad.exit_code == 2 and "has 1 faces" in bad.stderr
    owner = _run(assessed_url, "claim", "add", "--face", "1", "--by", "legal-representative")
    assert owner.exit_code == 2 and "must give the relationship" in owner.stderr


def test_add_prints_the_receipt_and_revoke_blocks_again(assessed_url: str) -> None:
    assert _chicago_decisions(assessed_url) == ["block"]
    claim = _claim(assessed_url)
    result = _run(assessed_url, "consent", "add", "--claim", str(claim["id"]), "--given-by",
                  "subject", "--form", "written", "--purpose", FRT, "--informed",
                  "--granted", "2025-01-10", *SIGNED)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "receipt: " in result.stdout
    receipt = result.stdout.split("receipt: ", 1)[1].split()[0]
    assert f"({FRT}): 1 allowed, 0 blocked" in result.stdout
    assert _chicago_decisions(assessed_url) == ["allow"]

    listed = _json(_run(assessed_url, "consent", "list", "--claim", str(claim["id"]), "--json"))
    (entry,) = listed["consents"]
    assert entry["given_by"] == "subject" and entry["claim_ids"] == [claim["id"]]
    assert entry["receipt"] == receipt and entry["status"] == "active"
    assert entry["purposes"] == [FRT] and entry["informed"] is True

    revoked = _run(assessed_url, "consent", "revoke", receipt)
    assert revoked.exit_code == 0, revoked.output
    assert f"revoked consent {entry['id']} from " in revoked.stdout
    assert "0 allowed, 1 blocked" in revoked.stdout
    assert _chicago_decisions(assessed_url) == ["block"]
    again = _json(_run(assessed_url, "consent", "revoke", str(entry["id"]), "--json"))
    assert again["changed"] is False
    text = _run(assessed_url, "consent", "list")
    assert "revoked" in text.stdout and "1 consents" in text.stdout


def test_add_json_and_an_electronic_consent_before_sb_2979(assessed_url: str) -> None:
    claim = _claim(assessed_url)
    document = _json(_run(
        assessed_url, "consent", "add", "--claim", str(claim["id"]), "--form", "electronic",
        "--purpose", FRT, "--purpose", "fairness-audit", "--informed",
        "--granted", "2024-07-01", *SIGNED, "--json",
    ))  # fmt: skip
    assert document["consent"]["form"] == "electronic"
    assert document["consent"]["purposes"] == [FRT, "fairness-audit"]
    assert document["reassessed"]["faces"] == 1 and document["reassessed"]["blocked"] == 1
    assert _chicago_decisions(assessed_url) == ["block"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--form", "written", "--purpose", FRT], "a consent must name the claimed faces"),
        (["--claim", "1", "--form", "written", "--purpose", FRT], "must show who signed it"),
        (["--claim", "1", "--form", "written", "--purpose", FRT, *SIGNED], "no claim with id 1"),
        (["--owner", CHICAGO, "--form", "written", "--purpose", FRT, "--evidence-sha256", "zz"],
         "evidence_sha256 'zz' is not 64 hex digits"),
    ],
)  # fmt: skip
def test_add_with_bad_values_exits_2(
    ledger: Ledger, ledger_url: str, args: list[str], message: str
) -> None:
    result = _run(ledger_url, "consent", "add", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_bad_date_is_a_usage_error(ledger_url: str) -> None:
    result = _run(ledger_url, "consent", "add", "--owner", CHICAGO, "--form", "written",
                  "--purpose", FRT, "--granted", "10/01/2025")  # fmt: skip
    assert result.exit_code == 2 and "is not a date (YYYY-MM-DD)" in result.stderr


def test_revoking_an_unknown_consent_exits_2(ledger: Ledger, ledger_url: str) -> None:
    result = _run(ledger_url, "consent", "revoke", "nope")
    assert result.exit_code == 2
    assert "no consent with id or receipt 'nope'" in result.stderr


def test_import_reports_bad_rows_on_stderr_and_counts(assessed_url: str, tmp_path: Path) -> None:
    path = tmp_path / "consents.csv"
    path.write_text(
        "owner_id,form,purposes,informed,granted\n"
        f"{CHICAGO},written,{FRT},true,2025-01-10\n"
        f"{CHICAGO},scribbled,{FRT},true,2025-01-10\n"
        f"{CHICAGO},written,{FRT},true,yesterday\n"
    )
    result = _run(assessed_url, "consent", "import", str(path), env=ILLINOIS)
    assert result.exit_code == 0, result.output
    assert "rejected consents.csv:3: form 'scribbled' is not one of" in result.stderr
    assert "rejected consents.csv:4: granted 'yesterday' is not a date" in result.stderr
    assert (
        "imported 1 consents from consents.csv: 3 rows, 0 already recorded, 2 rejected"
        in result.stdout
    )
    assert "0 allowed, 1 blocked" in result.stdout  # an owner's row covers only their own face
    assert _chicago_decisions(assessed_url) == ["block"]
    document = _json(_run(assessed_url, "consent", "import", str(path), "--json"))
    assert (document["added"], document["duplicates"], document["rejected"]) == (0, 1, 2)
    ledger = open_ledger(assessed_url)
    with ledger.read() as conn:
        names = (
            conn.execute(
                select(AuditEvent.__table__.c.name).where(
                    AuditEvent.__table__.c.name.like("consent.%")
                )
            )
            .scalars()
            .all()
        )
    ledger.dispose()
    assert names == ["consent.import", "consent.import"]


def test_list_on_an_empty_ledger(ledger: Ledger, ledger_url: str) -> None:
    result = _run(ledger_url, "consent", "list")
    assert result.exit_code == 0 and "no consents recorded" in result.stdout
