"""Load policy files (YAML, one law per file) into validated :class:`Policy` values.

Example::

    policies = load_policies()                         # the shipped laws
    policies = load_policies(policy_dir=Path("laws"))  # plus/overriding with your own

This is the only module in ``core.law`` that touches files. A file that does not parse or
does not satisfy the schema raises :class:`~faceledger.errors.PolicyError` naming the file and
the field: we fail closed and never fall back to defaults. A file in ``policy_dir`` whose
``id`` equals a shipped law replaces it; a new ``id`` adds a law.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from faceledger.core.law.schema import Policy
from faceledger.errors import PolicyError

SHIPPED_PACKAGE = "faceledger.policies"


def parse_policy(text: str, *, source: str) -> Policy:
    """Parse and validate one policy document; ``source`` names it in errors."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"policy file {source}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise PolicyError(f"policy file {source}: expected a mapping at the top level")
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(part) for part in err["loc"]) or "(top level)"
            problems.append(f"field '{field}': {err['msg']}")
        raise PolicyError(f"policy file {source}: " + "; ".join(problems)) from None


def _check_id(policy: Policy, *, stem: str, source: str) -> Policy:
    if policy.id != stem:
        raise PolicyError(
            f"policy file {source}: field 'id': {policy.id!r} must match the file name {stem!r}"
        )
    return policy


def _shipped() -> Iterable[tuple[str, str, str]]:
    root = resources.files(SHIPPED_PACKAGE)
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            yield entry.name[: -len(".yaml")], entry.read_text(encoding="utf-8"), entry.name


def load_policies(*, policy_dir: Path | None = None, shipped: bool = True) -> list[Policy]:
    """Shipped policies, then those in ``policy_dir`` (same id overrides), sorted by id."""
    found: dict[str, Policy] = {}
    if shipped:
        for stem, text, name in _shipped():
            found[stem] = _check_id(parse_policy(text, source=name), stem=stem, source=name)
    if policy_dir is not None:
        folder = Path(policy_dir)
        if not folder.is_dir():
            raise PolicyError(f"policy_dir {folder} is not a folder")
        for path in sorted(folder.glob("*.y*ml")):
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise PolicyError(f"policy file {path}: cannot read: {exc}") from None
            found[path.stem] = _check_id(
                parse_policy(text, source=str(path)), stem=path.stem, source=str(path)
            )
    if not found:
        raise PolicyError("no policy files found: refusing to decide without laws")
    return [found[key] for key in sorted(found)]
