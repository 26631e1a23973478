"""Import helpers shared by the benchmarks."""

from __future__ import annotations

import sys
import types
from importlib import resources
from typing import Any


def import_face_recognition() -> Any | None:
    """The ``face_recognition`` package, or ``None`` (with a note) when it is not installed.

    ``face_recognition_models`` imports ``pkg_resources`` (gone from recent setuptools) only
    to find its own files; a stand-in with ``resource_filename`` is enough for it.
    """
    if "pkg_resources" not in sys.modules:
        try:
            import pkg_resources  # noqa: F401
        except ImportError:
            shim = types.ModuleType("pkg_resources")
            shim.resource_filename = lambda pkg, name: str(resources.files(pkg).joinpath(name))  # type: ignore[attr-defined]
            sys.modules["pkg_resources"] = shim
    try:
        import face_recognition
    except ImportError as exc:
        print(f"face_recognition: not installed ({exc}); `make bench` installs it")
        return None
    return face_recognition
