from __future__ import annotations

from typing import Annotated, Any

import typer

from wxshop_cli.cli import group
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
    one line — title, promo price, list price struck through, stock left, description, image
    URL. When the line is too long the description gives way first. Shared by `promo list`
    and the demo."""
    return _Strips(promos)


class _Strips:
    def __init__(self, promos: list[dict[str, Any]]) -> None:
        self.promos = promos

    def __rich_console__(self, console, options):
        from rich.cells import cell_len
        from rich.table import Table
        from rich.text import Text

        from wxshop_cli import clock, money
        from wxshop_cli.config import current
        from wxshop_cli.core.regions import region_name

        tz = current().tz
        styles = ("bold", "bold red", "dim strike", "yellow", "dim", "blue")
        for promo in self.promos:
            where = ", ".join(region_name(code) for code in promo["regions"]) or "全国 nationwide"
            ends = clock.human(_parse(promo["ends_at"]), tz)[:16]
            yield Text.assemble((promo["title"], "bold"), "  ", (promo["status"], "green"),
                                f"  until {ends}  ", (where, "dim"))
            rows = []
            for item in promo["items"]:
                left = item["stock_left"]
                rows.append((item["title"], money.display(item["price_fen"]),
                             money.display(item["list_price_fen"]),
                             "sold out" if left == 0 else f"{left} left",
                             item["description"], item["image_url"]))
            widths = [max((cell_len(row[i]) for row in rows), default=0) for i in range(6)]
            room = options.max_width - (sum(widths) - widths[4]) - 5  # 5 gaps of one space
            table = Table(box=None, show_header=False, padding=(0, 1), pad_edge=False,
                          collapse_padding=True)
            for index, style in enumerate(styles):
                table.add_column(style=style, no_wrap=True, overflow="ellipsis",
                                 max_width=max(room, 8) if index == 4 else None,
                                 justify="right" if index in (1, 2) else "left")
            for row in rows:
                table.add_row(*row)
            yield table


def _render_strips(promos: list[dict[str, Any]]) -> None:
    from wxshop_cli.output import err_console, out_console

    if not promos:
        err_console().print("[dim]no live promotions[/dim]")
        return
    out_console().print(strips(promos))


def _parse(value: str):
    from datetime import datetime

    return datetime.fromisoformat(value)


def _render_promo(promo: dict[str, Any]) -> None:
    from wxshop_cli.output import render_panel, render_table

    render_panel({**promo, "item_count": len(promo["items"])}, PROMO_COLUMNS[:-1],
                 title=f"Promotion {promo['code']}")
    render_table(_item_rows([promo]), ITEM_COLUMNS[2:], empty="no items yet")


def _emit_report(report, *, what: str) -> None:
    from wxshop_cli.config import current
    from wxshop_cli.output import print_json, say

    data = report.to_json()
    if current().json:
        print_json(data)
        return
    emit(report.rows(), REPORT_COLUMNS, title=f"{what} {report.code}: {report.status}")
    notes = []
    if report.dry_run:
        notes.append("dry run: nothing was written")
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
    stock: Annotated[int, typer.Option("--stock", help="Units allocated to this promotion.")],
    price: Annotated[str | None, typer.Option("--price", metavar="YUAN",
                                              help="Fixed promo price.")] = None,
    percent_off: Annotated[str | None, typer.Option(
        "--percent-off", metavar="P", help="Percent off the list price (0 < P < 100); the "
        "price rounds half-up to the fen.")] = None,
    amount_off: Annotated[str | None, typer.Option("--amount-off", metavar="YUAN",
                                                   help="Yuan off the list price.")] = None,
    per_buyer_limit: Annotated[int | None, typer.Option(
        "--per-buyer-limit", metavar="N", help="Units per buyer; absent: no limit.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Allow a price change after the "
                                                        "promotion started.")] = False,
) -> None:
    """Add a product to a promotion, or change its item (price rule, stock, limit)."""
    from wxshop_cli import money
    from wxshop_cli.config import current
    from wxshop_cli.core import catalog, promos
    from wxshop_cli.errors import UsageError

    given = [(name, value) for name, value in (("--price", price),
                                               ("--percent-off", percent_off),
                                               ("--amount-off", amount_off)) if value is not None]
    if len(given) != 1:
        raise UsageError("give exactly one of --price, --percent-off, --amount-off"
                         + (f" (got {', '.join(n for n, _ in given)})" if given else ""),
                         slug="usage")
    option, value = given[0]
    if option == "--percent-off":
        pricing = promos.parse_percent(value, field=option)
    else:
        rule = "price" if option == "--price" else "amount_off"
        pricing = promos.pricing_for_amount(rule, money.parse_yuan(value, field=option))
    stock = catalog.check_stock(stock, field="--stock")
    limit = (promos.check_limit(per_buyer_limit, field="--per-buyer-limit")
             if per_buyer_limit is not None else None)
    from wxshop_cli.db.engine import database

    settings = current()
    now = settings.clock.now()
    with database().transaction() as session:
        item, report = promos.set_item(session, code, sku, pricing, stock, limit, now=now,
                                       force=force)
        result = promos.item_public(item, catalog.get_product(session, sku))
    action = "created" if report.created else "changed" if report.changed else "unchanged"
    result = {"promo": code, "status": report.status, **result, "action": action,
              "changed": report.changed}
    emit(result, [Column("action", "action"), *ITEM_COLUMNS], title=f"Item {action}")


@app.command("publish")
def publish(
    target: Annotated[str, typer.Argument(metavar="CODE-or-FILE",
                                          help="A promotion code, or a TOML/JSON promotion "
                                               "file (an existing path is a file).")],
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
    from wxshop_cli.errors import NotFound

    settings = current()
    path = Path(target).expanduser()
    spec = None
    if path.is_file():
        spec = promofile.load(path, settings.tz)  # every mistake, before the database opens
    elif not promos.PROMO_CODE.fullmatch(target):
        raise NotFound(f"no promotion file or promotion code {target!r}",
                       slug="promo_not_found", hint="give an existing file path or a code")
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
                report = promos.publish_code(session, target, now=now, tz=settings.tz,
                                             notify=True if notify is None else notify)
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
def archive(code: Annotated[str, typer.Argument(metavar="CODE")]) -> None:
    """Archive a promotion: it stops selling and can no longer change."""
    from wxshop_cli.config import current
    from wxshop_cli.core import promos
    from wxshop_cli.db.engine import database

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
             title="Promotions", empty="no promotions yet")
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
