from __future__ import annotations

from typing import Annotated, Any

import typer

from wxshop_cli.cli import Yes, confirm_or_stop, group
from wxshop_cli.output import Column, emit

app = group("promo", "Promotions: create, add items, publish (with a push), list as strips.")

PROMO_COLUMNS = [
    Column("code", "code"),
    Column("title", "title"),
    Column("status", "status"),
    Column("starts_at", "starts_at", "time"),
    Column("ends_at", "ends_at", "time"),
    Column("regions", "regions", "list"),
    Column("items", "item_count"),
]
ITEM_COLUMNS = [
    Column("promo", "promo"),
    Column("status", "status"),
    Column("id", "id"),
    Column("sku", "sku"),
    Column("title", "title"),
    Column("price", "price_fen", "money"),
    Column("list_price", "list_price_fen", "money"),
    Column("stock_left", "stock_left"),
    Column("per_buyer_limit", "per_buyer_limit"),
    Column("description", "description"),
    Column("image_url", "image_url"),
]
REPORT_COLUMNS = [
    Column("action", "action"),
    Column("kind", "kind"),
    Column("key", "key"),
    Column("field", "field"),
    Column("old", "old"),
    Column("new", "new"),
]


def _time(value: str, option: str):
    """An option's time: ISO 8601, naive read in WXSHOP_TZ. Malformed is a usage error (2)."""
    from wxshop_cli.clock import parse_instant
    from wxshop_cli.config import current
    from wxshop_cli.errors import UsageError

    try:
        return parse_instant(value, current().tz)
    except ValueError:
        raise UsageError(f"{option}: not an ISO 8601 time: {value!r}", slug="invalid_time",
                         hint="e.g. 2013-11-11T00:00:00+08:00; without an offset it is read "
                              "in WXSHOP_TZ") from None


def _item_rows(promos: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"promo": promo["code"], "status": promo["status"], **item}
            for promo in promos for item in promo["items"]]


def strips(promos: list[dict[str, Any]]):
    """The buyer's view as a Rich renderable: per promotion a header line, then each item on
    one line — title, promo price, list price struck through, stock left, the item id (what
    `wxshop buy` takes), description, image URL. Prices, stock and the id are never cut: when
    the line is too long the description gives way first (it ends in `…`); narrower still,
    the title, description and URL stack in one column that folds, and on a very narrow
    terminal each item becomes a small block of lines. Shared by `promo list` and the demo."""
    return _Strips(promos)


#: Narrowest description kept on a one-line strip, and narrowest stacked text column.
_MIN_DESCRIPTION = 12
_MIN_STACK = 16


class _Strips:
    def __init__(self, promos: list[dict[str, Any]]) -> None:
        self.promos = promos

    def __rich_console__(self, console, options):
        from rich.text import Text

        from wxshop_cli import clock
        from wxshop_cli.config import current
        from wxshop_cli.core.regions import region_name

        tz = current().tz
        for promo in self.promos:
            where = ", ".join(region_name(code) for code in promo["regions"]) or "全国 nationwide"
            ends = clock.human(_parse(promo["ends_at"]), tz)[:16]
            yield Text.assemble((promo["title"], "bold"), "  ", (promo["status"], "green"),
                                f"  until {ends}  ", (where, "dim"))
            yield from _strip_rows(promo["items"], options.max_width)


def _strip_cells(item: dict[str, Any]) -> dict[str, Any]:
    from wxshop_cli import money

    left = item["stock_left"]
    return {"title": item["title"], "price": money.display(item["price_fen"]),
            "list": money.display(item["list_price_fen"]),
            "stock": "sold out" if left == 0 else f"{left} left", "id": item["id"],
            "description": item.get("description") or "", "url": item.get("image_url") or ""}


#: The fixed parts of a strip (never cut) and their styles.
_FIXED = (("price", "bold red", "right"), ("list", "dim strike", "right"),
          ("stock", "yellow", "left"), ("id", "cyan", "left"))


def _strip_rows(items: list[dict[str, Any]], width: int):
    from rich.cells import cell_len
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    rows = [_strip_cells(item) for item in items]
    natural = {key: max((cell_len(row[key]) for row in rows), default=0)
               for key in ("title", "price", "list", "stock", "id", "description", "url")}
    fixed = sum(natural[key] for key, _, _ in _FIXED)

    def table() -> Table:
        return Table(box=None, show_header=False, padding=(0, 1), pad_edge=False,
                     collapse_padding=True)

    def fixed_columns(grid: Table) -> None:
        for key, style, justify in _FIXED:
            grid.add_column(style=style, no_wrap=True, width=natural[key],
                            justify=justify)  # type: ignore[arg-type]

    # One line per item (7 columns, 6 gaps): the description gives way first.
    room = width - fixed - natural["title"] - natural["url"] - 6
    if room >= min(natural["description"], _MIN_DESCRIPTION):
        grid = table()
        grid.add_column(style="bold", no_wrap=True, width=natural["title"])
        fixed_columns(grid)
        grid.add_column(style="dim", no_wrap=True, overflow="ellipsis",
                        width=max(0, min(room, natural["description"])))
        grid.add_column(style="blue", no_wrap=True, width=natural["url"])
        for row in rows:
            grid.add_row(Text(row["title"]), row["price"], row["list"], row["stock"],
                         row["id"], Text(row["description"]), Text(row["url"]))
        yield grid
        return
    # Title, description and URL stacked in one folding column beside the fixed ones.
    room = width - fixed - 4
    if room >= _MIN_STACK:
        grid = table()
        grid.add_column(overflow="fold", width=min(room, max(natural["title"],
                                                            natural["description"],
                                                            natural["url"])))
        fixed_columns(grid)
        for row in rows:
            grid.add_row(_stacked(row), row["price"], row["list"], row["stock"], row["id"])
        yield grid
        return
    # Very narrow: every item a block of lines, nothing cut.
    for row in rows:
        figures = Text.assemble((row["price"], "bold red"), " ", (row["list"], "dim strike"),
                                " ", (row["stock"], "yellow"), " ", (row["id"], "cyan"))
        yield Group(_stacked(row), figures)


def _stacked(row: dict[str, Any]):
    """Title, description and URL on lines of their own: the title and URL fold (nothing of
    them is lost), the description keeps to one line and gives way (`…`)."""
    from rich.console import Group
    from rich.text import Text

    lines = [Text(row["title"], style="bold", overflow="fold")]
    if row["description"]:
        lines.append(Text(row["description"], style="dim", no_wrap=True, overflow="ellipsis"))
    if row["url"]:
        lines.append(Text(row["url"], style="blue", overflow="fold"))
    return Group(*lines)


def _render_strips(promos: list[dict[str, Any]]) -> None:
    from wxshop_cli.output import err_console, out_console

    if not promos:
        err_console().print("[dim]no live promotions[/dim]")
        return
    out_console().print(strips(promos))


def _parse(value: str):
    from datetime import datetime

    return datetime.fromisoformat(value)


def _item_cell(item: dict[str, Any]):
    """A promo item's title, with its description and image URL on lines below."""
    return _stacked({"title": item["title"], "description": item.get("description") or "",
                     "url": item.get("image_url") or ""})


def _item_table(items: list[dict[str, Any]]) -> None:
    """`promo show` items on a terminal: id and SKU, prices, stock and limit always whole;
    the title column (with description and URL) folds."""
    from rich.text import Text

    from wxshop_cli import money, tables

    tables.render(items, [
        tables.Col("item", lambda i: Text.assemble(i["id"], ("\n" + i["sku"], "dim"))),
        tables.Col("title", _item_cell, flexible=True),
        tables.Col("price", lambda i: money.display(i["price_fen"]), justify="right",
                   style="bold"),
        tables.Col("list", lambda i: money.display(i["list_price_fen"]), justify="right",
                   style="dim strike"),
        tables.Col("left", lambda i: str(i["stock_left"]), justify="right"),
        tables.Col("limit", lambda i: "" if i["per_buyer_limit"] is None
                   else str(i["per_buyer_limit"]), justify="right"),
    ], empty="no items yet")


def _render_promo(promo: dict[str, Any]) -> None:
    from wxshop_cli.output import render_panel

    render_panel({**promo, "item_count": len(promo["items"])}, PROMO_COLUMNS[:-1],
                 title=f"Promotion {promo['code']}")
    _item_table(promo["items"])


def _promo_table(promos: list[dict[str, Any]]) -> None:
    """`promo list --all` on a terminal: the code, status and window always whole; the title
    (with the target regions under it) folds."""
    from rich.text import Text

    from wxshop_cli import clock, tables
    from wxshop_cli.config import current

    tz = current().tz

    def title(promo: dict[str, Any]) -> Text:
        where = ",".join(promo["regions"]) or "nationwide"
        return Text.assemble(promo["title"], ("\n" + where, "dim"))

    def window(promo: dict[str, Any]) -> str:
        return (clock.human(_parse(promo["starts_at"]), tz) + "\n"
                + clock.human(_parse(promo["ends_at"]), tz))

    tables.render(promos, [
        tables.Col("code", lambda p: p["code"]),
        tables.Col("title / regions", title, flexible=True),
        tables.Col("status", lambda p: p["status"]),
        tables.Col("starts / ends", window),
        tables.Col("items", lambda p: str(len(p["items"])), justify="right"),
    ], title="Promotions", empty="no promotions yet")


def _report_table(rows: list[dict[str, Any]], title: str) -> None:
    """A change report on a terminal: what changed (kind, key, item id, field) always whole;
    old and new values fold."""
    from rich.text import Text

    from wxshop_cli import tables

    def what(row: dict[str, Any]) -> Text:
        text = Text(f"{row['kind']} {row['key']}")
        for extra in (row.get("id"), row.get("field")):
            if extra:
                text.append("\n" + extra, style="dim")
        return text

    tables.render(rows, [
        tables.Col("action", lambda r: r["action"]),
        tables.Col("what", what),
        tables.Col("old", lambda r: r["old"], flexible=True, style="dim"),
        tables.Col("new", lambda r: r["new"], flexible=True),
    ], title=title)


def _emit_report(report, *, what: str) -> None:
    from wxshop_cli.config import current
    from wxshop_cli.output import print_json, say

    data = report.to_json()
    if current().json:
        print_json(data)
        return
    title = f"{what} {report.code}: {report.status}"
    emit(report.rows(), REPORT_COLUMNS, title=title,
         human=lambda rows: _report_table(rows, title))
    notes = []
    if report.dry_run:
        notes.append("dry run: nothing was written (new items get their ids when published)")
    if not report.any_change:
        notes.append("no change")
    if report.notified:
        notes.append(f"pushed to {report.notified} buyer{'s' if report.notified != 1 else ''}")
    if notes:
        say("; ".join(notes))


@app.command("create")
def create(
    code: Annotated[str, typer.Option("--code", help="Unique: 1-64 of A-Z a-z 0-9 _ -")],
    title: Annotated[str, typer.Option("--title", help="e.g. 双11精选商品")],
    starts: Annotated[str, typer.Option("--starts", metavar="ISO",
                                        help="Start (inclusive); no offset: WXSHOP_TZ.")],
    ends: Annotated[str, typer.Option("--ends", metavar="ISO", help="End (exclusive).")],
    region: Annotated[list[str] | None, typer.Option(
        "--region", metavar="CODE", help="Target region (repeat); none: nationwide.")] = None,
) -> None:
    """Create a draft promotion; add items, then publish it."""
    from wxshop_cli.config import current
    from wxshop_cli.core import catalog, promos
    from wxshop_cli.core.regions import check_region

    starts_at, ends_at = _time(starts, "--starts"), _time(ends, "--ends")
    code = promos.check_code(code, field="--code")
    title = catalog.check_title(title, field="--title")
    promos.check_window(starts_at, ends_at, field="--ends")
    regions = sorted({check_region(r, field="--region")["code"] for r in region or []})
    from wxshop_cli.db.engine import database

    settings = current()
    now = settings.clock.now()
    with database().transaction() as session:
        promos.create_promo(session, code=code, title=title, starts_at=starts_at,
                            ends_at=ends_at, regions=regions, now=now)
        result = promos.show_promo(session, code, now, settings.tz)
    emit({**result, "item_count": len(result["items"])}, PROMO_COLUMNS,
         title="Promotion created (draft)")


@app.command("add-item")
def add_item(
    code: Annotated[str, typer.Argument(metavar="CODE")],
    sku: Annotated[str, typer.Option("--sku", help="A product in the catalog.")],
    stock: Annotated[str, typer.Option("--stock", metavar="N",
                                       help="Units allocated to this promotion.")],
    price: Annotated[str | None, typer.Option("--price", metavar="YUAN",
                                              help="Fixed promo price.")] = None,
    percent_off: Annotated[str | None, typer.Option(
        "--percent-off", metavar="P", help="Percent off the list price (0 < P < 100); the "
        "price rounds half-up to the fen.")] = None,
    amount_off: Annotated[str | None, typer.Option("--amount-off", metavar="YUAN",
                                                   help="Yuan off the list price.")] = None,
    per_buyer_limit: Annotated[str | None, typer.Option(
        "--per-buyer-limit", metavar="N", help="Units per buyer; absent: no limit.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Allow a price change after the "
                                                        "promotion started.")] = False,
) -> None:
    """Add a product to a promotion, or change its item (price rule, stock, limit)."""
    from wxshop_cli import money
    from wxshop_cli.config import current
    from wxshop_cli.core import catalog, promos
    from wxshop_cli.errors import UsageError

    # Mistyped counts are usage errors (2), reported before rule breaks (3) as Typer would.
    units = catalog.parse_count(stock, option="--stock")
    limit_units = (catalog.parse_count(per_buyer_limit, option="--per-buyer-limit",
                                       slug="invalid_limit")
                   if per_buyer_limit is not None else None)
    given = [(name, value) for name, value in (("--price", price),
                                               ("--percent-off", percent_off),
                                               ("--amount-off", amount_off)) if value is not None]
    if len(given) != 1:
        raise UsageError("give exactly one of --price, --percent-off, --amount-off"
                         + (f" (got {', '.join(n for n, _ in given)})" if given else ""),
                         slug="usage", hint="e.g. --price 3999, --percent-off 20 or "
                                            "--amount-off 500")
    option, value = given[0]
    if option == "--percent-off":
        pricing = promos.parse_percent(value, field=option)
    else:
        rule = "price" if option == "--price" else "amount_off"
        pricing = promos.pricing_for_amount(rule, money.parse_yuan(value, field=option))
    stock_total = catalog.check_stock(units, field="--stock")
    limit = (promos.check_limit(limit_units, field="--per-buyer-limit")
             if limit_units is not None else None)
    from wxshop_cli.db.engine import database

    settings = current()
    now = settings.clock.now()
    with database().transaction() as session:
        item, report = promos.set_item(session, code, sku, pricing, stock_total, limit,
                                       now=now, force=force)
        result = promos.item_public(item, catalog.get_product(session, sku))
    action = "created" if report.created else "changed" if report.changed else "unchanged"
    result = {"promo": code, "status": report.status, **result, "action": action,
              "changed": report.changed}
    emit(result, [Column("action", "action"), *ITEM_COLUMNS], title=f"Item {action}")


@app.command("publish")
def publish(
    target: Annotated[str, typer.Argument(metavar="CODE-or-FILE",
                                          help="A promotion code, a TOML/JSON promotion file "
                                               "(an existing path is a file), or - to read "
                                               "the file from stdin.")],
    notify: Annotated[bool | None, typer.Option(
        "--notify/--no-notify", help="Push to buyers' inboxes (default: the file's `notify`, "
        "else yes).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would change; "
                                                            "write nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Allow price changes after the "
                                                        "promotion started.")] = False,
) -> None:
    """Publish a draft by code, or create/update products and a promotion from a file in one
    transaction, printing what changed."""
    from pathlib import Path

    from wxshop_cli.config import current
    from wxshop_cli.core import promofile, promos
    from wxshop_cli.errors import NotFound, UsageError

    settings = current()
    spec = None
    directory = False
    if target == promofile.STDIN:
        spec = promofile.load_stdin(settings.tz)  # TOML, or JSON when it starts with `{`
    else:
        path = Path(target).expanduser()
        directory = path.is_dir()
        if directory and not promos.PROMO_CODE.fullmatch(target):
            promofile.read_bytes(path)  # exit 2, invalid_file: "is a directory"
        if path.exists() and not directory:
            spec = promofile.load(path, settings.tz)  # every mistake, before the database
        elif not directory and not promos.PROMO_CODE.fullmatch(target):
            raise NotFound(f"no promotion file {target!r}, and it is not a promotion code",
                           slug="promo_not_found",
                           hint="check the path, or give a code of A-Z a-z 0-9 _ - (see "
                                "`wxshop promo list --all`)")
    from wxshop_cli.db.engine import database

    class _DryRun(Exception):
        pass

    now = settings.clock.now()
    report = None
    try:
        with database().transaction() as session:
            if spec is not None:
                report = promos.apply_spec(session, spec, now=now, tz=settings.tz,
                                           notify=notify, force=force)
            else:
                try:
                    report = promos.publish_code(session, target, now=now, tz=settings.tz,
                                                 notify=True if notify is None else notify)
                except NotFound:
                    if not directory:
                        raise
                    # A directory named like a code, and no such promotion: it was the
                    # directory that was meant.
                    raise UsageError(f"{target}: is a directory, not a promotion file (and "
                                     "no promotion has that code)", slug="invalid_file",
                                     hint="give the promotion file inside it, or - to read "
                                          "the file from stdin") from None
            if dry_run:
                raise _DryRun  # the same code ran; roll all of it back
    except _DryRun:
        pass
    assert report is not None
    report.dry_run = dry_run
    _emit_report(report, what="Published" if not dry_run else "Would publish")


@app.command("unpublish")
def unpublish(code: Annotated[str, typer.Argument(metavar="CODE")]) -> None:
    """Back to draft; only before the first sale (exit 5 after it)."""
    from wxshop_cli.config import current
    from wxshop_cli.core import promos
    from wxshop_cli.db.engine import database

    with database().transaction() as session:
        report = promos.unpublish(session, code, now=current().clock.now())
    _emit_report(report, what="Unpublished")


@app.command("archive")
def archive(code: Annotated[str, typer.Argument(metavar="CODE")], yes: Yes = False) -> None:
    """Archive a promotion: it stops selling and can no longer change."""
    from wxshop_cli.config import current
    from wxshop_cli.core import promos
    from wxshop_cli.db.engine import database

    confirm_or_stop(f"Archive promotion {code}? It stops selling and can never change again.",
                    yes=yes)
    with database().transaction() as session:
        report = promos.archive(session, code, now=current().clock.now())
    _emit_report(report, what="Archived")


@app.command("list")
def list_(
    region: Annotated[str | None, typer.Option("--region", metavar="CODE",
                                               help="Only promotions serving this region.")]
    = None,
    every: Annotated[bool, typer.Option("--all", help="Every promotion in every state (the "
                                                      "merchant's view).")] = False,
) -> None:
    """Live promotions as one-line strips (the buyer's view), or with --all every promotion."""
    from wxshop_cli.config import current
    from wxshop_cli.core import promos
    from wxshop_cli.core.regions import check_region
    from wxshop_cli.output import print_json

    code = check_region(region, field="--region")["code"] if region is not None else None
    from wxshop_cli.db.engine import database

    settings = current()
    with database().transaction(read_only=True) as session:
        shown = promos.list_promos(session, settings.clock.now(), settings.tz, region=code,
                                   every=every)
    if settings.json:
        print_json(shown)
    elif every:
        emit([{**p, "item_count": len(p["items"])} for p in shown], PROMO_COLUMNS,
             title="Promotions", empty="no promotions yet", human=_promo_table)
    else:
        emit(_item_rows(shown), ITEM_COLUMNS, human=lambda _rows: _render_strips(shown))


@app.command("show")
def show(code: Annotated[str, typer.Argument(metavar="CODE")]) -> None:
    """One promotion with its items and derived status."""
    from wxshop_cli.config import current
    from wxshop_cli.core import promos
    from wxshop_cli.db.engine import database
    from wxshop_cli.output import print_json

    settings = current()
    with database().transaction(read_only=True) as session:
        result = promos.show_promo(session, code, settings.clock.now(), settings.tz)
    if settings.json:
        print_json(result)
    else:
        emit(_item_rows([result]), ITEM_COLUMNS, human=lambda _rows: _render_promo(result))
