"""Where the shipped data files (`fixtures/`: BIN table, regions, demo fixtures) live.

Kept tiny and import-free so that any module may call it without slowing start-up.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def fixtures_dir() -> Path:
    """The directory holding the shipped fixtures.

    An installed wheel carries them inside the package (pyproject force-includes the
    top-level `fixtures/` as `wxshop_cli/fixtures`); a source or editable checkout keeps them
    in the repository's top-level `fixtures/`, next to the package.
    """
    packaged = _PACKAGE_DIR / "fixtures"
    if packaged.is_dir():
        return packaged
    return _PACKAGE_DIR.parent / "fixtures"
