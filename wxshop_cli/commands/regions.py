from __future__ import annotations

from wxshop_cli.output import Column, emit

COLUMNS = [Column("code", "code"), Column("name", "name"), Column("name_en", "name_en")]


def regions() -> None:
    """The 34 provincial-level divisions (GB/T 2260 codes)."""
    from wxshop_cli.core.regions import all_regions

    emit([dict(row) for row in all_regions()], COLUMNS, title="Regions")
