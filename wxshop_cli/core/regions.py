"""The 34 provincial-level divisions of China with their GB/T 2260 codes (fixtures/regions.json).

Pure data: no database, so `wxshop regions` starts fast."""

from __future__ import annotations

import json
from functools import cache

from wxshop_cli.errors import InvalidInput


@cache
def all_regions() -> tuple[dict[str, str], ...]:
    from wxshop_cli.resources import fixtures_dir

    with open(fixtures_dir() / "regions.json", encoding="utf-8") as handle:
        rows = json.load(handle)
    return tuple({"code": row["code"], "name": row["name"], "name_en": row["name_en"]}
                 for row in rows)


@cache
def _by_code() -> dict[str, dict[str, str]]:
    return {row["code"]: row for row in all_regions()}


def region_name(code: str) -> str:
    return check_region(code)["name"]


def check_region(code: str, *, field: str = "region") -> dict[str, str]:
    """The region with this code, or InvalidInput (exit 3) naming the bad code."""
    row = _by_code().get(str(code).strip())
    if row is None:
        raise InvalidInput(f"{field}: unknown region code {code!r}", slug="invalid_region",
                           hint="see `wxshop regions` for the 34 GB/T 2260 codes")
    return row
