from __future__ import annotations

from wxshop_cli.output import Column, emit

COLUMNS = [Column("code", "code"), Column("name", "name"), Column("name_en", "name_en")]


def regions() -> None:
    """The 34 provincial-level divisions (GB/T 2260 codes).

    The codes are what --region takes (promo create/list, address add, buy).

    Examples:
      $ wxshop regions
      $ wxshop --json regions
    """
    from wxshop_cli.core.regions import all_regions

    emit([dict(row) for row in all_regions()], COLUMNS, title="Regions")
