"""Print pip constraints that pin every core dependency of pyproject.toml to its declared floor.

``pip install -c <(python .ci/lower_bounds.py) ".[test]"`` then installs the oldest
versions fairkl claims to support; ``make test-floor`` runs the package tests on them.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

_FLOOR = re.compile(r"^\s*([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?\s*>=\s*([^,;\s]+)")


def lower_bounds(pyproject: Path) -> list[str]:
    """``name==floor`` for every ``name>=floor`` in ``[project].dependencies`` (extras dropped)."""
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    pins = []
    for requirement in dependencies:
        match = _FLOOR.match(requirement)
        if match is None:
            raise ValueError(
                f"dependency {requirement!r} has no '>=' floor: declare one so it can be tested"
            )
        pins.append(f"{match[1]}=={match[2]}")
    return pins


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
    print("\n".join(lower_bounds(root / "pyproject.toml")))
