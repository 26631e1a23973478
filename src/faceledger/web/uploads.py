"""Uploads read into memory with a size cap, parsed without touching the disk.

Starlette's form parser spools file parts over 1 MB to a temporary file; a selfie must never
be written to disk unencrypted, so uploads are read here instead: the body is streamed into
memory up to the ``web_max_upload_bytes`` limit (413 beyond it) and split into parts with
``python-multipart``'s push parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException, Request
from python_multipart.multipart import MultipartParser, parse_options_header

IMAGE_TYPES = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",)}
_OVERHEAD = 64 * 1024  # multipart headers and small fields on top of the file itself


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytes


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or 413 when it is (or claims to be) larger than ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit + _OVERHEAD):
        raise HTTPException(413, f"upload too large: at most {limit:,} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit + _OVERHEAD:
            raise HTTPException(413, f"upload too large: at most {limit:,} bytes")
    return bytes(body)


def parse_multipart(body: bytes, content_type: str | None) -> dict[str, Part]:
    """Parts by field name (the first of each); 400 for anything that is not multipart."""
    kind, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise HTTPException(400, "send the form as multipart/form-data")
    parts: dict[str, Part] = {}
    state: dict[str, Any] = {"headers": {}, "field": b"", "value": b"", "data": bytearray()}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] = bytes(state["field"]) + data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] = bytes(state["value"]) + data[start:end]

    def on_header_end() -> None:
        headers = state["headers"]
        assert isinstance(headers, dict)
        headers[bytes(state["field"]).lower()] = bytes(state["value"])
        state["field"], state["value"] = b"", b""

    def on_part_begin() -> None:
        state["headers"], state["data"] = {}, bytearray()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        buffer = state["data"]
        assert isinstance(buffer, bytearray)
        buffer += data[start:end]

    def on_part_end() -> None:
        headers = state["headers"]
        assert isinstance(headers, dict)
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        name = disposition.get(b"name")
        if name is None:
            return
        filename = disposition.get(b"filename")
        key = name.decode("utf-8", "replace")
        if key not in parts:
            parts[key] = Part(
                name=key,
                filename=filename.decode("utf-8", "replace") if filename is not None else None,
                content_type=headers.get(b"content-type", b"").decode("latin-1") or None,
                data=bytes(state["data"]),
            )

    parser = MultipartParser(boundary, {
        "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_part_begin": on_part_begin,
        "on_part_data": on_part_data, "on_part_end": on_part_end,
    })  # fmt: skip
    try:
        parser.write(body)
        parser.finalize()
    except Exception:  # python-multipart raises its own errors for malformed bodies  # noqa: BLE001
        raise HTTPException(400, "the form could not be read (malformed multipart body)") from None
    return parts


def image_part(parts: dict[str, Part], name: str, limit: int) -> bytes:
    """The bytes of an uploaded JPEG or PNG, checked by content (not by its name); 4xx if not."""
    part = parts.get(name)
    if part is None or not part.data:
        raise HTTPException(400, f"attach a photo in the '{name}' field (JPEG or PNG)")
    if len(part.data) > limit:
        raise HTTPException(413, f"upload too large: at most {limit:,} bytes")
    if not any(part.data.startswith(magic) for magics in IMAGE_TYPES.values() for magic in magics):
        raise HTTPException(415, "the photo must be a JPEG or PNG image")
    return part.data


def text_part(parts: dict[str, Part], name: str) -> str | None:
    part = parts.get(name)
    if part is None:
        return None
    return part.data.decode("utf-8", "replace").strip()
