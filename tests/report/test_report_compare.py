"""``--compare``: what changed between two reports, in words, headline first."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.report.conftest import Sample

from faceledger.cli import main
from faceledger.core.law import load_policies
from faceledger.errors import ReportFormatError
from faceledger.report.compare import compare_reports
from faceledger.services.oversight.report import load_report, write_report
from faceledger.services.people.consent import revoke_consent


def test_compare_finds_the_new_blocks_after_a_consent_is_revoked(
    sample_copy: Sample, tmp_path: Path
) -> None:
    ledger, settings = sample_copy.ledger, sample_copy.settings
    before = write_report(
        ledger, settings, out=tmp_path / "before", fmt="json", vault=sample_copy.vault
    )
    allowed = before.document["headline"]["faces_allowed"]
    assert allowed > 0
    with ledger.read() as conn:  # the owner's consent and the parent's, for the child
        consent_ids = conn.exec_driver_sql("SELECT id FROM consents").scalars().all()
    for consent_id in consent_ids:
        revoke_consent(ledger, consent_id, policies=load_policies())

    after = write_report(ledger, settings, out=tmp_path / "after", fmt="html", vault=sample_copy.vault,
                         compare=before.json)  # fmt: skip
    assert after.changes is not None
    by_path = {c["path"]: c for c in after.changes["changes"]}
    blocks = by_path["headline.faces_blocked"]
    assert blocks["delta"] == allowed and blocks["alarm"]
    assert blocks["text"].startswith("new blocks: ")
    assert by_path["headline.faces_allowed"]["delta"] == -allowed
    assert any(p.startswith("decisions.blocked_by.us-wa-mhmda") for p in by_path)
    assert "headline.faces" not in by_path  # no new faces
    assert after.document["retention"]["templates_now_blocked"] == allowed  # due for destruction
    assert (tmp_path / "after" / "changes.json").is_file()
    assert "What changed since" in after.html.read_text()  # type: ignore[union-attr]


def test_two_runs_on_an_unchanged_ledger_differ_only_by_the_audited_read(
    sample: Sample, tmp_path: Path
) -> None:
    first = write_report(
        sample.ledger, sample.settings, out=tmp_path / "a", fmt="json", vault=sample.vault
    )
    assert compare_reports(first.document, load_report(first.json))["changes"] == []
    second = write_report(
        sample.ledger, sample.settings, out=tmp_path / "b", fmt="json", vault=sample.vault
    )
    changed = compare_reports(load_report(first.json), second.document)["changes"]
    assert {c["path"] for c in changed} == {
        "headline.audit_events", "audit.chain.events", "audit.by_name.template.read"
    }  # fmt: skip


def test_compare_refuses_a_file_that_is_not_a_report(sample: Sample, tmp_path: Path) -> None:
    bogus = tmp_path / "old.json"
    bogus.write_text('{"hello": 1}')
    with pytest.raises(ReportFormatError, match="not a faceledger report"):
        compare_reports(load_report(bogus), {"schema": "faceledger.report/1"})
    result = CliRunner().invoke(main, ["--database-url", sample.settings.database_url, "report",
                                       "--out", str(tmp_path / "r"), "--compare", str(bogus)])  # fmt: skip
    assert result.exit_code == 2 and "not a faceledger report" in result.output
    assert not (tmp_path / "r").exists()  # refused before writing anything
