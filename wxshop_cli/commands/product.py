from __future__ import annotations

from typing import Annotated, Any

import typer

from wxshop_cli.cli import group
from wxshop_cli.output import Column, emit
from wxshop_cli.paging_options import After, Limit, PageInfo

app = group("product", """The catalog: products with list price and stock.

Examples:
  $ wxshop product list
  $ wxshop product add --sku YX-4001 --title "M185 鼠标" --price 99 --stock 20
""")

COLUMNS = [
    Column("sku", "sku"),
    Column("title", "title"),
    Column("list_price", "list_price_fen", "money"),
    Column("stock", "stock"),
    Column("image_url", "image_url"),
    Column("description", "description"),
    Column("kind", "kind"),
]


@app.command("add")
def add(
    sku: Annotated[str, typer.Option("--sku", metavar="SKU",
                                     help="Unique: 1-64 of A-Z a-z 0-9 . _ -")],
    title: Annotated[str, typer.Option("--title", metavar="TEXT", help="One line.")],
    price: Annotated[str, typer.Option("--price", metavar="YUAN", help="List price in yuan.")],
    stock: Annotated[str, typer.Option("--stock", metavar="N",
                                       help="Units sold at list price.")],
    image_url: Annotated[str, typer.Option("--image-url", metavar="URL",
                                           help="One http(s) URL.")] = "",
    description: Annotated[str, typer.Option("--description", metavar="TEXT",
                                             help="One line.")] = "",
    kind: Annotated[str, typer.Option(
        "--kind", metavar="KIND",
        help="goods (shipped to an address) or topup (mobile credit: `buy --mobile`).")]
    = "goods",
) -> None:
    """Add a product; a SKU that exists is refused (exit 5).

    Examples:
      $ wxshop product add --sku YX-4001 --title "M185 鼠标" --price 99 --stock 20
      $ wxshop product add --sku YX-4002 --title "小米移动电源" --price 79.00 \\
          --stock 500 --image-url https://img.example/yx-4002.jpg
    """
    from wxshop_cli import money
    from wxshop_cli.config import current
    from wxshop_cli.core import catalog

    # The form of every value is checked before the database is opened; a mistyped count
    # is a usage error (2), reported first as Typer would.
    units = catalog.parse_count(stock, option="--stock")
    values: dict[str, Any] = {
        "sku": catalog.check_sku(sku, field="--sku"),
        "title": catalog.check_title(title, field="--title"),
        "list_price_fen": money.parse_yuan(price, field="--price"),
        "stock": catalog.check_stock(units, field="--stock"),
        "image_url": catalog.check_image_url(image_url, field="--image-url"),
        "description": catalog.check_description(description, field="--description"),
        "kind": catalog.check_kind(kind, field="--kind"),
    }
    from wxshop_cli.db.engine import database

    with database().transaction() as session:
        product = catalog.add_product(session, **values, now=current().clock.now())
        result = catalog.product_public(product)
    emit(result, COLUMNS, title="Product added")


@app.command("list")
def list_(limit: Limit = 100, after: After = None, page_info: PageInfo = False) -> None:
    """Every product, by SKU.

    Examples:
      $ wxshop product list
      $ wxshop --json product list
    """
    from wxshop_cli.core import catalog
    from wxshop_cli.core.paging import check_limit
    from wxshop_cli.db.engine import database
    from wxshop_cli.views.paging import page_out

    check_limit(limit)
    with database().transaction(read_only=True) as session:
        page = catalog.list_products(session, limit=limit, after=after).map(catalog.product_public)
    page_out(page, page_info, lambda rows: emit(rows, COLUMNS, title="Products",
                                                empty="no products yet", human=_product_table))


def _product_table(rows: list[dict]) -> None:
    """The terminal's product list: SKU, price and stock always whole; the title (with the
    description and image URL under it) folds."""
    from wxshop_cli import money, tables
    from wxshop_cli.output import print_table
    from wxshop_cli.views.strips import stacked

    print_table(rows, [
        tables.Col("sku", lambda r: r["sku"]),
        tables.Col("title", lambda r: stacked({"title": r["title"],
                                                "description": r["description"] or "",
                                                "url": r["image_url"] or ""}), flexible=True),
        tables.Col("list price", lambda r: money.display(r["list_price_fen"]),
                   justify="right"),
        tables.Col("stock", lambda r: f"{r['stock']:,}", justify="right"),
    ], title="Products", empty="no products yet")


@app.command("show")
def show(sku: Annotated[str, typer.Argument(metavar="SKU", help="The product's SKU.")]
         ) -> None:
    """One product (exit 4 if there is no such SKU).

    Examples:
      $ wxshop product show YX-1001
      $ wxshop --json product show YX-1001
    """
    from wxshop_cli.core import catalog
    from wxshop_cli.db.engine import database

    with database().transaction(read_only=True) as session:
        result = catalog.product_public(catalog.require_product(session, sku))
    emit(result, COLUMNS, title=f"Product {sku}")
