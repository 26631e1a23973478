"""Benchmark: `faceledger ingest` of a YFCC100M-format TSV against a plain Arrow CSV read.

Run by hand (`make bench` or `.venv/bin/python bench/ingest.py [--rows N]`).
Generates a YFCC100M-format file (25 tab-separated columns, no header) of N rows (default
1,000,000) by repeating the bundled sample rows with fresh photo ids, then prints in one run:
  - a plain `pyarrow.csv.read_csv` of the file, all columns as strings (the baseline),
  - `faceledger ingest` into a fresh SQLite ledger (parse, validate, decode, insert),
with rows/s and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from faceledger.services.ingest import ingest_paths  # noqa: E402
from faceledger.sources.manifests import YFCC_COLUMNS  # noqa: E402
from faceledger.store import open_ledger  # noqa: E402

SAMPLE = REPO / "examples" / "yfcc100m_sample.tsv"


def generate(path: Path, rows: int) -> None:
    template = [line.split("\t") for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    with path.open("w", encoding="utf-8") as out:
        for i in range(rows):
            fields = list(template[i % len(template)])
            fields[0] = str(i)
            fields[1] = str(10_000_000_000 + i)
            out.write("\t".join(fields) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp, "yfcc100m_dataset.tsv")
        start = time.perf_counter()
        generate(data, args.rows)
        print(f"generated {args.rows:,} rows ({data.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - start:.1f} s")

        start = time.perf_counter()
        table = pacsv.read_csv(
            data,
            read_options=pacsv.ReadOptions(column_names=YFCC_COLUMNS),
            parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in YFCC_COLUMNS}),
        )
        arrow_s = time.perf_counter() - start
        assert table.num_rows == args.rows
        del table

        ledger = open_ledger(f"sqlite:///{tmp}/bench.db")
        start = time.perf_counter()
        report = ingest_paths(ledger, [data])
        ingest_s = time.perf_counter() - start
        assert report.added == args.rows, report.added
        ledger.dispose()

    arrow_rate, ingest_rate = args.rows / arrow_s, args.rows / ingest_s
    print(f"{'what':52} {'rows/s':>12} {'x arrow':>8}")
    print(f"{'pyarrow.csv.read_csv (strings, baseline)':52} {arrow_rate:12,.0f} {1:8.3f}")
    print(f"{'faceledger ingest -> SQLite ledger':52} {ingest_rate:12,.0f} {ingest_rate / arrow_rate:8.3f}")
    print(f"projected for 100 M rows: {100_000_000 / ingest_rate / 3600:.1f} h at this rate, memory flat (streamed)")


if __name__ == "__main__":
    main()
