"""Findings 14 and 15: bad input and a hostile environment give one clear line naming the file
(and line), never a traceback, and corrupt nothing; manifest paths stay inside their folder.

The last test generates a corpus of bad inputs and runs every one through the CLI.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from faceledger.cli import main
from faceledger.services.collection.ingest import ingest_paths
from faceledger.sources.manifests import MAX_LINE_BYTES, read_manifest
from faceledger.store import Ledger, open_ledger
from faceledger.store.audit import verify_chain
from faceledger.store.schema import Photo

P = Photo.__table__
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
IMAGE = EXAMPLES / "photos" / "Abel_Pacheco_0001.jpg"


def _cli(db: Path, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["--database-url", f"sqlite:///{db}", "--data-dir", str(db.parent / "data"), *args]
    )


def _clean(result: Result) -> None:
    """Exited on purpose (0, 1 or 2), without an uncaught exception."""
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output


def _photos(ledger: Ledger) -> list[str]:
    with ledger.read() as conn:
        return sorted(conn.execute(select(P.c.source_key)).scalars())


# --- 15: manifest paths are confined ----------------------------------------------------------


def _escape_manifest(root: Path) -> Path:
    folder = root / "collection"
    folder.mkdir(parents=True)
    outside = root / "outside"
    outside.mkdir()
    shutil.copy(IMAGE, folder / "ok.jpg")
    shutil.copy(IMAGE, outside / "theirs.jpg")
    (folder / "link.jpg").symlink_to(outside / "theirs.jpg")
    rows = [("ok", "ok.jpg"), ("passwd", "../../../../../../../../etc/passwd"), ("abs", "/etc/passwd"),
            ("link", "link.jpg"), ("out", str(outside / "theirs.jpg"))]  # fmt: skip
    with (folder / "photos.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["photo_id", "path"])
        writer.writerows(rows)
    return folder / "photos.csv"


def test_manifest_paths_outside_its_folder_are_rejected_with_their_line(
    ledger: Ledger, tmp_path: Path
) -> None:
    manifest = _escape_manifest(tmp_path)
    report = ingest_paths(ledger, [manifest], roots=())
    assert _photos(ledger) == ["ok"]  # /etc/passwd is not a photo of this collection
    rejects = report.sources[0].rejects
    assert [r.split(": ", 1)[0] for r in rejects] == [f"{manifest}:{n}" for n in (3, 4, 5, 6)]
    assert all("outside the manifest's folder" in r for r in rejects)


def test_a_setting_allows_more_folders(ledger: Ledger, tmp_path: Path) -> None:
    manifest = _escape_manifest(tmp_path)
    ingest_paths(ledger, [manifest], roots=[tmp_path / "outside"])
    assert _photos(ledger) == ["link", "ok", "out"]  # still never /etc


def test_the_cli_reads_manifest_path_roots_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = _escape_manifest(tmp_path)
    monkeypatch.setenv("FACELEDGER_MANIFEST_PATH_ROOTS", json.dumps([str(tmp_path / "outside")]))
    result = _cli(tmp_path / "l.db", "ingest", str(manifest))
    assert result.exit_code == 0, result.output
    assert f"{manifest}:3:" in result.output and "outside the manifest's folder" in result.output


def test_a_folder_symlink_to_outside_is_skipped(ledger: Ledger, tmp_path: Path) -> None:
    folder = tmp_path / "album"
    folder.mkdir()
    shutil.copy(IMAGE, folder / "a.jpg")
    (folder / "b.jpg").symlink_to("/etc/hostname")
    report = ingest_paths(ledger, [folder], roots=())
    assert _photos(ledger) == ["a.jpg"] and report.rejected == 1
    assert "outside" in report.sources[0].rejects[0]


# --- 14: one overlong line costs one row, not the file ----------------------------------------


def test_a_line_longer_than_arrows_block_rejects_only_that_row(
    ledger: Ledger, tmp_path: Path
) -> None:
    manifest = tmp_path / "m.csv"
    long_url = "https://e.org/" + "a" * (5 << 20) + ".jpg"  # 5 MiB: more than Arrow's 4 MiB block
    manifest.write_text(
        f"photo_id,url\n1,https://e.org/1.jpg\n2,{long_url}\n3,https://e.org/3.jpg\n"
    )
    report = ingest_paths(ledger, [manifest], roots=())
    assert _photos(ledger) == ["1", "3"]
    assert report.sources[0].rejects == [
        f"{manifest}:3: line longer than {MAX_LINE_BYTES:,} bytes: skipped unread"
    ]


def test_a_long_json_line_is_skipped_without_being_read_whole(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    with manifest.open("w") as handle:
        handle.write(json.dumps({"photo_id": "1", "url": "https://e.org/1.jpg"}) + "\n")
        handle.write(
            json.dumps({"photo_id": "2", "url": "https://e.org/" + "b" * (3 << 20)}) + "\n"
        )
        handle.write(json.dumps({"photo_id": "3", "url": "https://e.org/3.jpg"}) + "\n")
    rows, rejects = [], []
    for batch in read_manifest(manifest):
        rows += [line for line, _ in batch.rows]
        rejects += batch.rejects
    assert rows == [1, 3] and [line for line, _ in rejects] == [2]


@pytest.mark.slow
def test_a_1_gib_csv_line_is_one_rejected_row_with_its_line_number(tmp_path: Path) -> None:
    """A real 1 GiB line, kept to 1 MB on disk: gzip members of 1 MiB of 'a' concatenated."""
    manifest = tmp_path / "huge.csv.gz"
    member = gzip.compress(b"a" * (1 << 20), compresslevel=9)
    with manifest.open("wb") as handle:
        handle.write(gzip.compress(b"photo_id,url\n1,https://e.org/1.jpg\n2,https://e.org/"))
        for _ in range(1024):
            handle.write(member)
        handle.write(gzip.compress(b".jpg\n3,https://e.org/3.jpg\n"))
    rows, rejects = [], []
    for batch in read_manifest(manifest):
        rows += [line for line, _ in batch.rows]
        rejects += batch.rejects
    assert rows == [2, 4]
    assert rejects == [(3, f"line longer than {MAX_LINE_BYTES:,} bytes: skipped unread")]


# --- 14: a read-only ledger, a full disk ------------------------------------------------------


def _ingested(tmp_path: Path) -> Path:
    db = tmp_path / "l.db"
    assert _cli(db, "ingest", str(EXAMPLES / "photos.csv")).exit_code == 0
    return db


def test_a_read_only_ledger_still_answers_status_and_refuses_writes_clearly(tmp_path: Path) -> None:
    db = _ingested(tmp_path)
    ro = f"sqlite:///file:{db}?mode=ro&uri=true"
    runner = CliRunner()
    status = runner.invoke(main, ["--database-url", ro, "status", "--json"])
    assert status.exit_code == 0, status.output  # before: migrate() wrote, and this failed
    assert json.loads(status.stdout)["totals"]["photos"] == 10
    write = runner.invoke(main, ["--database-url", ro, "ingest", str(EXAMPLES)])
    _clean(write)
    assert write.exit_code == 2 and "read-only" in write.stderr and str(db) in write.stderr
    assert (
        json.loads(runner.invoke(main, ["--database-url", ro, "status", "--json"]).stdout)[
            "totals"
        ]["photos"]
        == 10
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through file modes")
def test_a_ledger_in_a_read_only_folder_answers_status(tmp_path: Path) -> None:
    db = _ingested(tmp_path)
    os.chmod(db, 0o400)
    os.chmod(db.parent, 0o500)
    try:
        status = _cli(db, "status")
        assert status.exit_code == 0, status.output
        write = _cli(db, "ingest", str(EXAMPLES))
        _clean(write)
        assert write.exit_code == 2 and "read-only" in write.stderr
    finally:
        os.chmod(db.parent, 0o700)
        os.chmod(db, 0o600)


def test_a_full_disk_is_a_clear_error_and_commits_nothing_half_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _ingested(tmp_path)
    with sqlite3.connect(db) as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        before = conn.execute("SELECT count(*) FROM photos").fetchone()[0]
    import faceledger.store.db as store_db

    pragmas = store_db._sqlite_pragmas

    def full_disk(dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        pragmas(dbapi_connection, record)
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 2}")  # SQLITE_FULL past it

    monkeypatch.setattr(store_db, "_sqlite_pragmas", full_disk)
    result = _cli(db, "ingest", str(EXAMPLES))  # the YFCC rows need more pages than that
    _clean(result)
    assert result.exit_code == 2 and "disk holding the ledger is full" in result.stderr
    assert "nothing of the failed step was committed" in result.stderr
    monkeypatch.setattr(store_db, "_sqlite_pragmas", pragmas)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM photos").fetchone()[0] in (before, before + 42)
    ledger = open_ledger(f"sqlite:///{db}")
    try:
        with ledger.read() as conn:
            assert verify_chain(conn) is None
            assert conn.execute(select(func.count()).select_from(P)).scalar_one() >= before
    finally:
        ledger.dispose()


# --- 14: a bad-input corpus, generated here, through the CLI ----------------------------------


def _scenarios(folder: Path) -> list[tuple[Path, str]]:
    """Scenario files that are broken in one way each, with what the error must say."""
    good = json.dumps({"action": "extract-template", "purpose": "train-face-recognition",
                       "date": "2025-01-01", "subject": {"evidence": []}}).encode()  # fmt: skip
    cases = {
        "utf8-start.json": (b"\xff" + good, "line 1: not valid UTF-8"),
        "utf8-line3.json": (b'{\n"purpose":\n"caf\xe9"}', "line 3: not valid UTF-8"),
        "utf8-surrogate.json": (b'{"purpose": "\xed\xa0\x80"}', "not valid UTF-8"),
        "deep-arrays.json": (
            b'{"consents": ' + b"[" * 50_000 + b"]" * 50_000 + b"}",
            "nested deeper",
        ),
        "deep-objects.json": (b'{"a":' * 5_000 + b"1" + b"}" * 5_000, "nested deeper"),
        "deep-on-line-2.json": (b"{\n" + b"[" * 40, "line 2"),
        "truncated.json": (good[:-5], "not valid JSON"),
        "nul.json": (good[:10] + b"\x00" + good[10:], "not valid JSON"),
        "not-object.json": (b"[1, 2, 3]", "must be a JSON object"),
        "empty.json": (b"", "not valid JSON"),
        "huge.json": (b'{"purpose": "' + b"x" * (2 << 20) + b'"}', "larger than"),
    }
    out = []
    for name, (content, message) in cases.items():
        (folder / name).write_bytes(content)
        out.append((folder / name, message))
    return out


def _manifests(folder: Path) -> list[tuple[Path, Callable[[Result, Path], None]]]:
    """Manifests broken in one way each, with a check of the CLI's answer."""

    def rejects(line: int, text: str) -> Callable[[Result, Path], None]:
        def check(result: Result, path: Path) -> None:
            assert result.exit_code == 0, result.output
            assert f"{path}:{line}: " in result.output and text in result.output

        return check

    def fails(text: str) -> Callable[[Result, Path], None]:
        def check(result: Result, path: Path) -> None:
            assert result.exit_code == 2 and str(path) in result.stderr and text in result.stderr

        return check

    head = b"photo_id,url\n1,https://e.org/1.jpg\n"
    cases: dict[str, tuple[bytes, Callable[[Result, Path], None]]] = {
        "bad-utf8-cell.csv": (head + b"2,https://e.org/\xff.jpg\n", rejects(3, "not valid UTF-8")),
        "few-fields.csv": (
            head + b"2\n3,https://e.org/3.jpg\n",
            rejects(3, "expected 2 fields, found 1"),
        ),
        "long-line.csv": (
            head + b"2,https://e.org/" + b"z" * (MAX_LINE_BYTES + 10) + b"\n",
            rejects(3, "line longer"),
        ),
        "long-line.tsv": (
            b"photo_id\turl\n1\thttps://e.org/1.jpg\n2\t" + b"z" * (5 << 20) + b"\n",
            rejects(3, "line longer"),
        ),
        "bad-date.csv": (
            b"photo_id,url,date_taken\n1,https://e.org/1.jpg,soon\n",
            rejects(2, "not a date"),
        ),
        "nan-lat.csv": (
            b"photo_id,url,lat,lon\n1,https://e.org/1.jpg,nan,1\n",
            rejects(2, "latitude"),
        ),
        "escape.csv": (
            b"photo_id,path\n1,../../../../../etc/passwd\n",
            rejects(2, "outside the manifest's folder"),
        ),
        "binary.csv": (os.urandom(4096).replace(b"\n", b"") + b"\n", fails("")),
        "no-columns.csv": (b"a,b,c\n1,2,3\n", fails("not a photo manifest")),
        "bad-json.jsonl": (
            b'{"photo_id": "1", "url": "https://e.org/1.jpg"}\n{oops\n',
            rejects(2, "invalid JSON"),
        ),
        "deep.jsonl": (b'{"photo_id": "1", "url": "u"}\n' + b"[" * 100_000 + b"\n", rejects(2, "")),
        "bad-utf8.jsonl": (b'{"photo_id": "\xff"}\n', rejects(1, "not valid UTF-8")),
        "not-parquet.parquet": (b"PAR1 this is not parquet", fails("not a readable Parquet file")),
    }
    out = []
    for name, (content, check) in cases.items():
        (folder / name).write_bytes(content)
        out.append((folder / name, check))
    return out


def test_a_generated_corpus_of_bad_inputs_gives_clear_errors_through_the_cli(
    tmp_path: Path,
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    db = tmp_path / "l.db"
    for path, message in _scenarios(corpus):
        result = _cli(db, "policy", "evaluate", str(path), "--json")
        _clean(result)
        assert result.exit_code == 2, (path.name, result.output)
        assert str(path) in result.stderr and message in result.stderr, (path.name, result.stderr)
    for path, check in _manifests(corpus):
        single = tmp_path / "m" / path.name  # one manifest per folder: read alone
        single.parent.mkdir(exist_ok=True)
        shutil.copy(path, single)
        result = _cli(db, "ingest", str(single))
        _clean(result)
        check(result, single)
        single.unlink()
    ledger = open_ledger(f"sqlite:///{db}")
    try:
        with ledger.read() as conn:
            assert verify_chain(conn) is None  # nothing half-written along the way
    finally:
        ledger.dispose()


def test_a_full_disk_while_writing_release_files_leaves_no_version_and_no_staging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import faceledger.services.lifecycle.releases as releases

    def no_space(_table: object, where: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(where))

    monkeypatch.setattr(releases.pq, "write_table", no_space)
    db = tmp_path / "l.db"
    assert _cli(db, "init").exit_code == 0  # only ingest and init create a ledger
    result = _cli(db, "release", "create", "r", "--purpose", "fairness-audit", "--allow-empty")
    _clean(result)
    assert result.exit_code == 2 and "no space left on the device" in result.stderr
    assert "faces.parquet" in result.stderr  # names the file it could not write
    assert not list((tmp_path / "data" / "releases" / "r").iterdir())  # staging removed
    monkeypatch.undo()
    listed = _cli(db, "release", "list", "--json")
    assert json.loads(listed.stdout)["versions"] == []
