"""Machine-readable opt-outs from text and data mining, read fail-closed (no I/O here).

Example::

    reservation_from_headers({"x-robots-tag": ["noai"]})
    # Reservation(code="x-robots-tag", evidence={"header": "X-Robots-Tag", "value": "noai", ...})
    reservation_from_bytes(jpeg_bytes)       # XMP plus:DataMining, C2PA training-mining
    TdmrepRules.parse(text).reservation_for("/photos/1.jpg")

Each check returns ``None`` (no reservation found) or a :class:`Reservation` with a stable
``code`` and its evidence (the header value, the file, the rule). A signal that is present but
cannot be read reserves the photo (``*-unreadable``); unlike Spawning's ``datadiligence``,
which treats a parse error as permission. Signals read:

- HTTP ``X-Robots-Tag`` with ``noai`` or ``noimageai`` (any user-agent scope);
- the TDMRep (W3C community group report) ``tdm-reservation`` header (``1`` reserves, ``0``
  does not, anything else is unreadable) and the origin's ``/.well-known/tdmrep.json``: a
  JSON array of ``{"location", "tdm-reservation", "tdm-policy"?}`` rules; a location is a path
  pattern (``*`` any characters, a final ``$`` anchors the end, otherwise a prefix); if any
  matching rule reserves, the resource is reserved, whatever other rules say;
- XMP ``plus:DataMining`` (IPTC Photo Metadata / PLUS) with a ``DMI-PROHIBITED*`` value;
- a C2PA manifest (JPEG APP11 or PNG ``caBX`` JUMBF boxes) whose ``c2pa.training-mining``
  (or ``cawg.training-mining``) assertion has an entry with ``use`` ``notAllowed`` or
  ``constrained``. Signatures are not validated: honouring a reservation needs no trust in
  its signer, and an unsigned "allowed" is simply no reservation.
"""

from __future__ import annotations

import json
import re
import struct
import xml.etree.ElementTree as ET  # noqa: S405  (expat >= 2.4 refuses entity expansion bombs)
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

PLUS_NS = "http://ns.useplus.org/ldf/xmp/1.0/"
TRAINING_LABELS = ("c2pa.training-mining", "cawg.training-mining")
RESERVING_USES = ("notAllowed", "constrained")
_XMP_STARTS = (b"<x:xmpmeta", b"<x:xapmeta")
_XMP_ENDS = (b"</x:xmpmeta>", b"</x:xapmeta>")
_MAX_CBOR_DEPTH = 32


@dataclass(frozen=True)
class Reservation:
    """A text-and-data-mining reservation: which signal (``code``) and what was seen."""

    code: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, **self.evidence}


# --- HTTP headers ----------------------------------------------------------------------------


def reservation_from_headers(headers: Mapping[str, list[str]]) -> Reservation | None:
    """``headers`` maps lower-case names to every value the response carried."""
    for value in headers.get("x-robots-tag", []):
        for token in value.split(","):
            directive = token.strip().lower()
            if ":" in directive:  # "googlebot: noai" -> scoped to a bot; honoured for all
                directive = directive.split(":", 1)[1].strip()
            if directive in ("noai", "noimageai"):
                return Reservation(
                    "x-robots-tag", {"header": "X-Robots-Tag", "value": value, "rule": directive}
                )
    for value in headers.get("tdm-reservation", []):
        policy = headers.get("tdm-policy", [None])[0]
        text = value.strip()
        if text == "0":
            continue
        if text == "1":
            return Reservation(
                "tdm-reservation",
                {"header": "tdm-reservation", "value": value, "tdm-policy": policy},
            )
        return Reservation(
            "tdm-reservation-unreadable",
            {"header": "tdm-reservation", "value": value,
             "rule": "a tdm-reservation value other than 0 or 1 is read as a reservation"},
        )  # fmt: skip
    return None


# --- /.well-known/tdmrep.json ----------------------------------------------------------------


@dataclass(frozen=True)
class TdmrepRule:
    location: str
    reserved: bool
    policy: str | None

    def matches(self, path: str) -> bool:
        pattern = self.location
        anchored = pattern.endswith("$")
        if anchored:
            pattern = pattern[:-1]
        if not anchored and not pattern.endswith("*"):
            pattern += "*"
        regex = ".*".join(re.escape(part) for part in pattern.split("*"))
        return re.fullmatch(regex, path, flags=re.S) is not None


@dataclass(frozen=True)
class TdmrepRules:
    """An origin's parsed tdmrep.json (see module docs)."""

    rules: tuple[TdmrepRule, ...]

    @classmethod
    def parse(cls, text: str) -> TdmrepRules:
        """Raises ``ValueError`` naming what is wrong; the caller reserves (fail closed)."""
        document = json.loads(text)
        if not isinstance(document, list):
            raise ValueError("tdmrep.json must be a JSON array of rules")
        rules = []
        for index, item in enumerate(document):
            if not isinstance(item, dict):
                raise ValueError(f"rule {index} is not an object")
            location, reserved = item.get("location"), item.get("tdm-reservation")
            if not isinstance(location, str) or not location:
                raise ValueError(f"rule {index} has no location")
            if reserved not in (0, 1) or isinstance(reserved, bool):
                raise ValueError(f"rule {index}: tdm-reservation must be 0 or 1, not {reserved!r}")
            policy = item.get("tdm-policy")
            if policy is not None and not isinstance(policy, str):
                raise ValueError(f"rule {index}: tdm-policy must be a URL")
            rules.append(TdmrepRule(location, reserved == 1, policy))
        return cls(tuple(rules))

    def reservation_for(self, path: str, *, file_url: str) -> Reservation | None:
        for rule in self.rules:
            if rule.reserved and rule.matches(path):
                return Reservation(
                    "tdmrep",
                    {"file": file_url, "rule": {"location": rule.location, "tdm-reservation": 1,
                                                "tdm-policy": rule.policy}},
                )  # fmt: skip
        return None


# --- embedded metadata -----------------------------------------------------------------------


def reservation_from_bytes(data: bytes) -> Reservation | None:
    """XMP data-mining and C2PA training-mining reservations embedded in an image."""
    return _xmp_reservation(data) or _c2pa_reservation(data)


def _xmp_packets(data: bytes) -> Iterable[bytes | None]:
    """Each XMP packet in ``data``; ``None`` for one that starts but never ends."""
    for start_tag, end_tag in zip(_XMP_STARTS, _XMP_ENDS, strict=True):
        start = data.find(start_tag)
        while start != -1:
            end = data.find(end_tag, start)
            if end == -1:
                yield None
                return
            yield data[start : end + len(end_tag)]
            start = data.find(start_tag, end)


def _xmp_reservation(data: bytes) -> Reservation | None:
    for packet in _xmp_packets(data):
        if packet is None:
            return _unreadable_xmp("the XMP packet has no end")
        if b"<!DOCTYPE" in packet or b"<!ENTITY" in packet:
            return _unreadable_xmp("the XMP packet declares a DTD or entities")
        try:
            root = ET.fromstring(packet)  # noqa: S314
        except ET.ParseError as exc:
            return _unreadable_xmp(f"the XMP packet does not parse: {exc}")
        for value in _data_mining_values(root):
            if "DMI-PROHIBITED" in value.upper():
                return Reservation(
                    "xmp-datamining",
                    {"file": "XMP", "property": "plus:DataMining", "value": value,
                     "rule": "a DMI-PROHIBITED* value reserves text and data mining"},
                )  # fmt: skip
    return None


def _data_mining_values(root: ET.Element) -> Iterable[str]:
    key = f"{{{PLUS_NS}}}DataMining"
    resource = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}resource"
    for element in root.iter():
        if key in element.attrib:
            yield element.attrib[key]
        if element.tag == key:
            if element.attrib.get(resource):
                yield element.attrib[resource]
            text = "".join(element.itertext()).strip()
            if text:
                yield text


def _unreadable_xmp(why: str) -> Reservation:
    return Reservation(
        "xmp-unreadable",
        {"file": "XMP", "detail": why, "rule": "metadata that cannot be read is a reservation"},
    )


# --- C2PA (JUMBF boxes) ----------------------------------------------------------------------


class _Malformed(ValueError):
    pass


def _c2pa_reservation(data: bytes) -> Reservation | None:
    try:
        stores = _jumbf_stores(data)
        for store in stores:
            found = _walk_boxes(store, 0, len(store), depth=0)
            if found is not None:
                return found
    except (_Malformed, struct.error, UnicodeDecodeError, ValueError, RecursionError) as exc:
        return Reservation(
            "c2pa-unreadable",
            {"file": "C2PA manifest", "detail": str(exc) or type(exc).__name__,
             "rule": "a C2PA manifest that cannot be read is a reservation"},
        )  # fmt: skip
    return None


def _jumbf_stores(data: bytes) -> list[bytes]:
    """The JUMBF boxes a JPEG (APP11 segments) or PNG (caBX chunks) carries."""
    if data[:2] == b"\xff\xd8":
        return _jpeg_app11(data)
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return _png_cabx(data)
    if b"jumb" in data and b"c2pa" in data:
        raise _Malformed("a C2PA manifest in a format faceledger does not read")
    return []


def _jpeg_app11(data: bytes) -> list[bytes]:
    parts: dict[bytes, list[tuple[int, bytes]]] = {}
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            break
        marker = data[pos + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xDA, 0xD9):  # start of scan / end of image: no more metadata
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        segment = data[pos + 4 : pos + 2 + length]
        if marker == 0xEB and segment[:2] == b"JP" and len(segment) >= 8:
            instance = segment[2:4]
            (sequence,) = struct.unpack(">I", segment[4:8])
            parts.setdefault(instance, []).append((sequence, segment[8:]))
        pos += 2 + length
    stores = []
    for chunks in parts.values():
        chunks.sort()
        joined = bytearray(chunks[0][1])
        for _, chunk in chunks[1:]:  # continuation segments repeat the box header
            header = 16 if chunk[:4] == b"\x00\x00\x00\x01" else 8
            joined += chunk[header:]
        stores.append(bytes(joined))
    return stores


def _png_cabx(data: bytes) -> list[bytes]:
    stores, pos = [], 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"caBX":
            stores.append(data[pos + 8 : pos + 8 + length])
        if kind == b"IEND":
            break
        pos += 12 + length
    return stores


def _boxes(data: bytes, start: int, end: int) -> Iterable[tuple[bytes, int, int]]:
    pos = start
    while pos < end:
        if pos + 8 > end:
            raise _Malformed("a JUMBF box header is cut short")
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise _Malformed(f"a JUMBF {kind!r} box overruns its container")
        yield kind, pos + header, pos + size
        pos += size


def _label(data: bytes, start: int, end: int) -> str:
    """The label of a ``jumd`` description box (UUID, toggles, label)."""
    if end - start < 17:
        raise _Malformed("a JUMBF description box is cut short")
    if data[start + 16] & 0x02 == 0:
        return ""
    stop = data.find(b"\x00", start + 17, end)
    if stop == -1:
        raise _Malformed("a JUMBF label is not terminated")
    return data[start + 17 : stop].decode("utf-8")


def _walk_boxes(data: bytes, start: int, end: int, *, depth: int) -> Reservation | None:
    if depth > _MAX_CBOR_DEPTH:
        raise _Malformed("JUMBF boxes nest too deep")
    for kind, body, stop in _boxes(data, start, end):
        if kind != b"jumb":
            continue
        children = list(_boxes(data, body, stop))
        if not children or children[0][0] != b"jumd":
            raise _Malformed("a JUMBF superbox has no description box")
        label = _label(data, children[0][1], children[0][2])
        if label.split("__", 1)[0] in TRAINING_LABELS:
            found = _training_assertion(data, label, children[1:])
            if found is not None:
                return found
            continue
        found = _walk_boxes(data, body, stop, depth=depth + 1)
        if found is not None:
            return found
    return None


def _training_assertion(
    data: bytes, label: str, contents: list[tuple[bytes, int, int]]
) -> Reservation | None:
    for kind, start, stop in contents:
        if kind == b"cbor":
            value, _ = _cbor(data, start, stop, 0)
        elif kind == b"json":
            value = json.loads(data[start:stop])
        else:
            continue
        entries = value.get("entries") if isinstance(value, dict) else None
        if not isinstance(entries, dict):
            raise _Malformed(f"the {label} assertion has no entries")
        for name, entry in entries.items():
            use = entry.get("use") if isinstance(entry, dict) else None
            if use in RESERVING_USES:
                return Reservation(
                    "c2pa-training-mining",
                    {"file": "C2PA manifest", "assertion": label, "entry": str(name),
                     "value": use, "rule": f"use {use} reserves text and data mining"},
                )  # fmt: skip
        return None
    raise _Malformed(f"the {label} assertion has no CBOR or JSON content")


def _cbor(data: bytes, pos: int, end: int, depth: int) -> tuple[Any, int]:
    """A small CBOR (RFC 8949) decoder for assertion content; raises on anything odd."""
    if depth > _MAX_CBOR_DEPTH or pos >= end:
        raise _Malformed("CBOR is cut short or nests too deep")
    initial = data[pos]
    major, info = initial >> 5, initial & 0x1F
    pos += 1
    if major == 7:
        simple = {20: False, 21: True, 22: None, 23: None}
        if info in simple:
            return simple[info], pos
        sizes = {25: (">e", 2), 26: (">f", 4), 27: (">d", 8)}
        if info in sizes:
            fmt, size = sizes[info]
            return struct.unpack(fmt, data[pos : pos + size])[0], pos + size
        raise _Malformed(f"unsupported CBOR simple value {info}")
    if info < 24:
        arg = info
    elif info in (24, 25, 26, 27):
        size = 1 << (info - 24)
        if pos + size > end:
            raise _Malformed("CBOR is cut short")
        arg = int.from_bytes(data[pos : pos + size], "big")
        pos += size
    else:
        raise _Malformed("indefinite-length CBOR is not read")
    if major == 0:
        return arg, pos
    if major == 1:
        return -1 - arg, pos
    if major in (2, 3):
        if pos + arg > end:
            raise _Malformed("a CBOR string overruns its box")
        raw = data[pos : pos + arg]
        return (raw if major == 2 else raw.decode("utf-8")), pos + arg
    if major == 4:
        items = []
        for _ in range(arg):
            item, pos = _cbor(data, pos, end, depth + 1)
            items.append(item)
        return items, pos
    if major == 5:
        mapping: dict[Any, Any] = {}
        for _ in range(arg):
            key, pos = _cbor(data, pos, end, depth + 1)
            value, pos = _cbor(data, pos, end, depth + 1)
            mapping[key if isinstance(key, (str, int)) else repr(key)] = value
        return mapping, pos
    return _cbor(data, pos, end, depth + 1)  # major 6: a tag; its content is what counts


#: Each reservation code in plain words: what the report and the public portal say.
RESERVATION_WORDS: dict[str, str] = {
    "optout-list": "the rights holder is on an opt-out list we imported (photo, site or account)",
    "tdmrep": "the site's TDMRep file (/.well-known/tdmrep.json) reserves text and data mining",
    "tdmrep-unreadable": "the site's TDMRep file could not be understood, so we treat it as an opt-out",
    "tdmrep-unreachable": "the site's TDMRep file could not be read, so we treat it as an opt-out",
    "x-robots-tag": "the site said noai / noimageai (X-Robots-Tag header): no use for AI",
    "tdm-reservation": "the site reserved text and data mining (tdm-reservation header)",
    "tdm-reservation-unreadable": "the site's tdm-reservation header could not be understood, so we treat it as an opt-out",
    "xmp-datamining": "the photo's own metadata (IPTC/PLUS DataMining) prohibits data mining",
    "xmp-unreadable": "the photo's metadata (XMP) could not be read, so we treat it as an opt-out",
    "c2pa-training-mining": "the photo's Content Credentials (C2PA) do not allow AI training or data mining",
    "c2pa-unreadable": "the photo's Content Credentials (C2PA) could not be read, so we treat them as an opt-out",
}


def reservation_words(code: str | None) -> str | None:
    """A reservation code (``Photo.reservation``) in plain words; ``None`` for no reservation.
    An unknown code still reads as an opt-out (fail closed)."""
    if code is None:
        return None
    return RESERVATION_WORDS.get(code, "the rights holder reserved text and data mining (opt-out)")
