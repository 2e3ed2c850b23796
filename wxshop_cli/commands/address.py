"""`wxshop address add | list | default ID | remove ID`: the acting buyer's shipping addresses."""

from __future__ import annotations

from typing import Annotated

import typer

from wxshop_cli.cli import group
from wxshop_cli.output import Column, emit
from wxshop_cli.paging_options import After, Limit, PageInfo

app = group("address", """The acting buyer's shipping addresses. The default one is offered
at checkout.

Examples:
  $ wxshop --buyer lilei address list
  $ wxshop --buyer lilei address add --region 310000 --city 上海市 \\
      --street "黄浦区南京东路 1 号" --contact 李雷 --phone 13800138001
""")

COLUMNS = [
    Column("id", "id"), Column("region", "region"), Column("city", "city"),
    Column("street", "street"), Column("contact", "contact"), Column("phone", "phone_masked"),
    Column("default", "is_default", "bool"),
]


@app.command("add")
def add(
    region: Annotated[str, typer.Option("--region", metavar="CODE",
                                        help="GB/T 2260 code (see `wxshop regions`).")],
    city: Annotated[str, typer.Option("--city", metavar="TEXT", help="City, as text.")],
    street: Annotated[str, typer.Option("--street", metavar="TEXT",
                                        help="District, street and number.")],
    contact: Annotated[str, typer.Option("--contact", metavar="NAME",
                                         help="Who receives the parcel.")],
    phone: Annotated[str, typer.Option("--phone", metavar="MOBILE",
                                       help="The contact's Chinese mobile.")],
    default: Annotated[bool, typer.Option("--default", help="Make it the default address "
                                                            "(the first one always is).")]
    = False,
) -> None:
    """Save an address; the first one becomes the default.

    Examples:
      $ wxshop --buyer lilei address add --region 310000 --city 上海市 \\
          --street "黄浦区南京东路 1 号" --contact 李雷 --phone 13800138001
      $ wxshop --buyer lilei address add --region 440000 --city 深圳市 \\
          --street "南山区科技园 2 号" --contact 李雷 --phone 13800138001 --default
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import addresses

    data = addresses.check_address_input(region, city, street, contact, phone)
    from wxshop_cli.db.engine import database

    settings = current()
    with database().transaction() as session:
        result = addresses.add_address(session, settings.buyer, data, settings.clock.now(),
                                       make_default=default, tz=settings.tz)
    emit(result, COLUMNS, title="Address saved")


@app.command("list")
def list_(limit: Limit = 100, after: After = None, page_info: PageInfo = False) -> None:
    """The acting buyer's addresses, the default first.

    Examples:
      $ wxshop --buyer lilei address list
      $ wxshop --buyer lilei --json address list
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import addresses
    from wxshop_cli.core.paging import check_limit
    from wxshop_cli.db.engine import database
    from wxshop_cli.views.paging import page_out

    check_limit(limit)
    settings = current()
    with database().transaction(read_only=True) as session:
        page = addresses.list_addresses(session, settings.buyer, tz=settings.tz, limit=limit,
                                        after=after)
    page_out(page, page_info, lambda rows: emit(
        rows, COLUMNS, title="My addresses", empty="no saved address (wxshop address add)",
        human=_address_table))


def _address_table(rows: list[dict]) -> None:
    """The terminal's address list: the id (what `address default`/`buy --address` take) and
    the masked mobile always whole; the address (region, city, street, contact) folds."""
    from rich.text import Text

    from wxshop_cli import tables
    from wxshop_cli.output import print_table

    def where(row: dict) -> Text:
        return Text.assemble(f"{row['region']} {row['city']} {row['street']}",
                             ("\n" + row["contact"], "dim"))

    print_table(rows, [
        tables.Col("id", lambda r: r["id"]),
        tables.Col("address / contact", where, flexible=True),
        tables.Col("phone", lambda r: r["phone_masked"]),
        tables.Col("default", lambda r: "yes" if r["is_default"] else "no"),
    ], title="My addresses", empty="no saved address (wxshop address add)")


@app.command("default")
def default(address: Annotated[str, typer.Argument(metavar="ID", help="The address id.")]
            ) -> None:
    """Make an address the default.

    Examples:
      $ wxshop --buyer lilei address default addr_2c6e1f9a0b7d4835
      $ wxshop --buyer lilei --json address default addr_2c6e1f9a0b7d4835
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import addresses
    from wxshop_cli.db.engine import database

    settings = current()
    with database().transaction() as session:
        result = addresses.set_default_address(session, settings.buyer, address,
                                               tz=settings.tz)
    emit(result, [*COLUMNS, Column("changed", "changed", "bool")], title="Default address")


@app.command("remove")
def remove(address: Annotated[str, typer.Argument(metavar="ID", help="The address id.")]
           ) -> None:
    """Remove an address; it is kept for order history.

    A removed default is replaced by the oldest remaining address.

    Examples:
      $ wxshop --buyer lilei address remove addr_2c6e1f9a0b7d4835
      $ wxshop --buyer lilei --json address remove addr_2c6e1f9a0b7d4835
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import addresses
    from wxshop_cli.db.engine import database

    settings = current()
    with database().transaction() as session:
        result = addresses.remove_address(session, settings.buyer, address,
                                          settings.clock.now(), tz=settings.tz)
    emit(result, [*COLUMNS, Column("new_default", "new_default")], title="Address removed")
