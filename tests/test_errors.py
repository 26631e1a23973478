"""Every exception lives in errors.py, under a kind the portal answers by type."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import faceledger
from faceledger import errors
from faceledger.web.errors import status_for


def _modules() -> list[str]:
    return [
        m.name
        for m in pkgutil.walk_packages(faceledger.__path__, "faceledger.")
        if ".migrations" not in m.name
        and m.name not in ("faceledger.errors", "faceledger.__main__")
    ]


def test_no_public_exception_is_defined_outside_errors_py() -> None:
    strays = []
    for name in _modules():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == name
                and not attr.startswith("_")
            ):
                strays.append(f"{name}.{attr}")
    assert strays == [], "define these in faceledger/errors.py: " + ", ".join(strays)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.RequestNotFound("no request"), 404),
        (errors.AssessmentNotFound("no face"), 404),
        (errors.IdentityError("not shown"), 400),
        (errors.ExtensionStateError("closed"), 409),
        (errors.ImageError("truncated", "cut short"), 422),
        (errors.LedgerError("down"), 503),
        (errors.ModelError("missing"), 503),
        (errors.ConsentError("no signer"), 400),
        (errors.NoFaceError("no face"), 400),
    ],
)
def test_the_portal_answers_by_kind_not_by_name(error: errors.FaceledgerError, status: int) -> None:
    assert status_for(error) == status


def test_a_new_error_named_like_another_kind_keeps_its_own_kind() -> None:
    class ConflictingNotFoundState(errors.Invalid):  # the name says 404 and 409; the kind 400
        pass

    assert status_for(ConflictingNotFoundState("bad")) == 400
