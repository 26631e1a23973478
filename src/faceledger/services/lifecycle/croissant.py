"""The Croissant (JSON-LD, MLCommons Croissant 1.0) card of a release version.

Example::

    card = croissant_card(name="faces-2025", version=2, purpose="fairness-audit",
                          created=now, table=table, files={"faces.parquet": "9f86..."})

Besides the core vocabulary (files with their sha256, one ``faces`` record set whose fields
read the Parquet manifest) the card carries the Responsible-AI fields (``rai:``) and a
faceledger extension (``fl:``, :data:`FL_NAMESPACE`): the purpose, the consent basis of the
faces, the jurisdictions and laws that reach them, and retention (the earliest destroy-by
date, and the per-face ``destroy_by`` field). Built from the manifest table alone, so a
version cut by an erasure gets an accurate card without reading the ledger.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import pyarrow as pa

FL_NAMESPACE = "https://faceledger.dev/ns/croissant#"
CONFORMS_TO = "http://mlcommons.org/croissant/1.0"

CONTEXT: dict[str, Any] = {
    "@language": "en",
    "@vocab": "https://schema.org/",
    "citeAs": "cr:citeAs",
    "column": "cr:column",
    "conformsTo": "dct:conformsTo",
    "cr": "http://mlcommons.org/croissant/",
    "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"},
    "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/",
    "equivalentProperty": "cr:equivalentProperty",
    "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract",
    "field": "cr:field",
    "fileProperty": "cr:fileProperty",
    "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet",
    "format": "cr:format",
    "includes": "cr:includes",
    "isLiveDataset": "cr:isLiveDataset",
    "jsonPath": "cr:jsonPath",
    "key": "cr:key",
    "md5": "cr:md5",
    "parentField": "cr:parentField",
    "path": "cr:path",
    "recordSet": "cr:recordSet",
    "references": "cr:references",
    "regex": "cr:regex",
    "repeated": "cr:repeated",
    "replace": "cr:replace",
    "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/",
    "separator": "cr:separator",
    "source": "cr:source",
    "subField": "cr:subField",
    "transform": "cr:transform",
    "fl": FL_NAMESPACE,
}

_TYPES = {
    pa.string(): "sc:Text",
    pa.int32(): "sc:Integer",
    pa.int64(): "sc:Integer",
    pa.float64(): "sc:Float",
    pa.date32(): "sc:Date",
}
_DESCRIPTIONS = {
    "face_id": "The face's id in the faceledger ledger (stable across versions).",
    "photo_id": "The photo's id in the ledger.",
    "photo_external_id": "The photo's id at its source (e.g. the Flickr photo id).",
    "x1": "Face box left edge, pixels of the photo as displayed.",
    "y1": "Face box top edge.",
    "x2": "Face box right edge.",
    "y2": "Face box bottom edge.",
    "license_name": "The photo's licence, as published by its owner.",
    "jurisdictions": "ISO 3166 codes the face's location evidence points at (comma-separated).",
    "laws": "Laws in scope for this face and purpose (faceledger policy ids).",
    "consent_basis": "'consent': a recorded consent satisfied the laws in scope; "
    "'none-required': no law in scope requires consent.",
    "destroy_by": "The earliest date any law in scope requires this face's biometrics destroyed.",
    "features": "DiF measures of the face as JSON (only in versions released with features).",
}


def _counts(counter: Counter[str]) -> list[dict[str, Any]]:
    """A tally as JSON-LD nodes (a plain mapping would turn its keys into IRIs)."""
    return [{"fl:value": key, "fl:faces": count} for key, count in sorted(counter.items())]


def croissant_card(
    *,
    name: str,
    version: int,
    purpose: str,
    created: datetime,
    table: pa.Table,
    files: dict[str, str],
    with_features: bool,
    reason: str,
) -> dict[str, Any]:
    """The JSON-LD card of one release version (see the module docs)."""
    column = table.column
    laws: Counter[str] = Counter()
    codes: Counter[str] = Counter()
    for value in column("laws").to_pylist():
        laws.update(v for v in (value or "").split(",") if v)
    for value in column("jurisdictions").to_pylist():
        codes.update(v for v in (value or "").split(",") if v)
    basis = Counter(column("consent_basis").to_pylist())
    dates = [d for d in column("destroy_by").to_pylist() if d is not None]
    licences = Counter(v for v in column("license_name").to_pylist() if v)
    fields = [
        {
            "@type": "cr:Field",
            "@id": f"faces/{f.name}",
            "name": f.name,
            "description": _DESCRIPTIONS.get(f.name, f.name.replace("_", " ")),
            "dataType": _TYPES[f.type],
            "source": {"fileObject": {"@id": "faces.parquet"}, "extract": {"column": f.name}},
        }
        for f in table.schema
        if with_features or f.name != "features"
    ]
    return {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "name": f"{name}-v{version}",
        "description": f"faceledger release {name}, version {version}: {table.num_rows} faces "
        f"for purpose '{purpose}', each allowed by the law engine for that purpose ({reason}).",
        "conformsTo": CONFORMS_TO,
        "version": f"{version}.0.0",
        "citeAs": f"faceledger release {name}, version {version} ({created.date().isoformat()})",
        "datePublished": created.date().isoformat(),
        "url": f"https://faceledger.invalid/releases/{name}/v{version}",
        "license": "Per photo: see the license_name and license_url fields.",
        "keywords": ["faces", "consent", "faceledger", purpose],
        "distribution": [
            {
                "@type": "cr:FileObject",
                "@id": file_name,
                "name": file_name,
                "contentUrl": file_name,
                "sha256": digest,
                "encodingFormat": "application/x-parquet"
                if file_name.endswith(".parquet")
                else "text/csv",
            }  # fmt: skip
            for file_name, digest in sorted(files.items())
        ],
        "recordSet": [
            {
                "@type": "cr:RecordSet",
                "@id": "faces",
                "name": "faces",
                "description": "One record per released face, with its photo's provenance.",
                "key": {"@id": "faces/face_id"},
                "field": fields,
            }  # fmt: skip
        ],
        "rai:dataCollection": "Photos ingested with their provenance (source, owner, licence, "
        "geotag); faces found by a detector; every face decided by faceledger's law engine for "
        "the stated purpose from the photo's location evidence and recorded consents.",
        "rai:dataCollectionType": "Web scraping of openly licensed photo collections",
        "rai:personalSensitiveInformation": "Faces of identifiable people; biometric features "
        + (
            "are included as DiF measures, only for faces whose decision allows them."
            if with_features
            else "are not included."
        ),  # fmt: skip
        "rai:dataUseCases": f"Only the purpose '{purpose}'; any other use needs a new decision.",
        "rai:dataLimitations": "Jurisdiction is inferred from geotags and place text, which can be "
        "wrong; faces with unresolved evidence were decided conservatively.",
        "rai:dataBiases": "Selection by law: faces from places with strict biometric laws and no "
        "consent are left out, which skews geography and demography.",
        "rai:dataSocialImpact": "People in the photos can find themselves and opt out; opted-out "
        "faces leave the next version and consumers are told.",
        "rai:dataReleaseMaintenancePlan": "Versions are immutable; an opt-out or erasure cuts a "
        "new version without the person and records a notice to every consumer of earlier ones.",
        "fl:purpose": purpose,
        "fl:releaseVersion": version,
        "fl:reason": reason,
        "fl:withFeatures": with_features,
        "fl:consentBasis": _counts(basis),
        "fl:jurisdictions": _counts(codes),
        "fl:laws": _counts(laws),
        "fl:licences": _counts(licences),
        "fl:retention": {
            "fl:destroyBy": min(dates).isoformat() if dates else None,
            "fl:destroyByField": "faces/destroy_by",
            "fl:policy": "Destroy each face's biometrics by its destroy_by date; consumers must "
            "delete faces removed by later versions.",
        },
    }
