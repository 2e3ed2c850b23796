from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from wxshop_cli.cli import Yes, confirm_or_stop, group
from wxshop_cli.output import Column, emit
from wxshop_cli.paging_options import After, Limit, PageInfo
from wxshop_cli.views.promos import ITEM_COLUMNS, PROMO_COLUMNS, emit_report

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

app = group("promo", """Promotions: create, add items, publish, list.

Publishing pushes the promotion to the inbox of every buyer it serves.

Examples:
  $ wxshop promo publish weekend.toml --dry-run
  $ wxshop --buyer lilei promo list --region 310000
  $ wxshop promo show double11-2013
""")


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


@app.command("create")
def create(
    code: Annotated[str, typer.Option("--code", metavar="CODE",
                                      help="Unique: 1-64 of A-Z a-z 0-9 _ -")],
    title: Annotated[str, typer.Option("--title", metavar="TEXT", help="e.g. 双11精选商品")],
    starts: Annotated[str, typer.Option("--starts", metavar="ISO-8601",
                                        help="Start (inclusive); no offset: WXSHOP_TZ.")],
    ends: Annotated[str, typer.Option("--ends", metavar="ISO-8601", help="End (exclusive).")],
    region: Annotated[list[str] | None, typer.Option(
        "--region", metavar="CODE", help="Target region (repeat); none: nationwide.")] = None,
) -> None:
    """Create a draft promotion; add items, then publish it.

    Examples:
      $ wxshop promo create --code encore --title 双11返场 \\
          --starts 2013-11-16T00:00 --ends 2013-11-18T00:00
      # only for buyers whose default address is in Shanghai
      $ wxshop promo create --code sh-only --title 上海专享 --region 310000 \\
          --starts 2013-11-11T00:00:00+08:00 --ends 2013-11-12T00:00:00+08:00
    """
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


ADD_ITEM_HELP = """Add a product to a promotion, or change its item.

The SKU already in the promotion: its price rule, stock and limit are changed. Give exactly
one of --price, --percent-off, --amount-off.

Examples:
  $ wxshop promo add-item weekend --sku YX-3001 --price 89 --stock 100
  $ wxshop promo add-item weekend --sku YX-1002 --percent-off 15 --stock 50 \\
      --per-buyer-limit 1
  $ wxshop promo add-item weekend --sku YX-2004 --amount-off 20.50 --stock 30
"""


@app.command("add-item", help=ADD_ITEM_HELP)  # the help is long: kept out of the function
def add_item(
    code: Annotated[str, typer.Argument(metavar="CODE", help="The promotion's code.")],
    sku: Annotated[str, typer.Option("--sku", metavar="SKU", help="A product in the catalog.")],
    stock: Annotated[str, typer.Option("--stock", metavar="N",
                                       help="Units allocated to this promotion.")],
    price: Annotated[str | None, typer.Option("--price", metavar="YUAN",
                                              help="Fixed promo price.")] = None,
    percent_off: Annotated[str | None, typer.Option(
        "--percent-off", metavar="PERCENT", help="Percent off the list price (0 to 100); the "
        "price rounds half-up to the fen.")] = None,
    amount_off: Annotated[str | None, typer.Option("--amount-off", metavar="YUAN",
                                                   help="Yuan off the list price.")] = None,
    per_buyer_limit: Annotated[str | None, typer.Option(
        "--per-buyer-limit", metavar="N", help="Units per buyer; absent: no limit.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Allow a price change after the "
                                                        "promotion started.")] = False,
) -> None:
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


PublishTarget = Annotated[str, typer.Argument(
    metavar="CODE|FILE", help="A promotion code, a TOML/JSON promotion file (an existing "
                                 "path is a file), or - to read the file from stdin.")]
Notify = Annotated[bool | None, typer.Option(
    "--notify/--no-notify", help="Push to buyers' inboxes (default: the file's `notify`, "
                                 "else yes).")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Report what would change; write "
                                                        "nothing.")]
Force = Annotated[bool, typer.Option("--force", help="Allow price changes after the "
                                                     "promotion started.")]


@app.command("publish")
def publish(target: PublishTarget, notify: Notify = None, dry_run: DryRun = False,
            force: Force = False) -> None:
    """Publish a draft, or a promotion file, in one transaction.

    A file creates or updates its products and the promotion, publishes it and pushes it to
    the buyers it serves, in one transaction; what changed is printed (--dry-run: what would
    change). TOML, or the same keys in JSON; every key: docs/guide.md.

    \b
    A minimal promotion file (title, list_price: for a new SKU only):
      code = "weekend"
      title = "周末特惠"
      starts_at = "2013-11-16T00:00:00+08:00"
      ends_at = "2013-11-18T00:00:00+08:00"

    \b
      [[items]]
      sku = "YX-3001"
      title = "三只松鼠 坚果大礼包 1480g"
      list_price = "168.00"
      price = "89.00"
      stock = 100

    Examples:
      $ wxshop promo publish weekend.toml --dry-run
      $ wxshop promo publish weekend.toml
      $ wxshop promo publish - --no-notify < weekend.toml
      $ wxshop promo publish double11-2013
    """
    from wxshop_cli.config import current
    from wxshop_cli.db.engine import database

    settings = current()
    spec, directory = _publish_source(target, settings.tz)

    class _DryRun(Exception):
        pass

    report = None
    try:
        with database().transaction() as session:
            report = _publish_in(session, target, spec, directory, notify=notify,
                                 force=force, now=settings.clock.now(), tz=settings.tz)
            if dry_run:
                raise _DryRun  # the same code ran; roll all of it back
    except _DryRun:
        pass
    assert report is not None
    report.dry_run = dry_run
    emit_report(report, what="Published" if not dry_run else "Would publish")


def _publish_source(target: str, tz: ZoneInfo):
    """What `publish TARGET` names, checked before the database: (the parsed file or None
    for a code, whether TARGET is a directory)."""
    from pathlib import Path

    from wxshop_cli.core import promofile, promos
    from wxshop_cli.errors import NotFound
    from wxshop_cli.terminal import read_promo_stdin

    if target == promofile.STDIN:  # TOML, or JSON when it starts with `{`
        return promofile.load_bytes(read_promo_stdin(), tz), False
    path = Path(target).expanduser()
    directory = path.is_dir()
    if directory and not promos.PROMO_CODE.fullmatch(target):
        promofile.read_bytes(path)  # exit 2, invalid_file: "is a directory"
    if path.exists() and not directory:
        return promofile.load(path, tz), False  # every mistake, before the database
    if not directory and not promos.PROMO_CODE.fullmatch(target):
        raise NotFound(f"no promotion file {target!r}, and it is not a promotion code",
                       slug="promo_not_found",
                       hint="check the path, or give a code of A-Z a-z 0-9 _ - (see "
                            "`wxshop promo list --all`)")
    return None, directory


def _publish_in(session, target: str, spec, directory: bool, *, notify: bool | None,
                force: bool, now, tz):
    """Apply the file, or publish the draft TARGET names, in the caller's transaction."""
    from wxshop_cli.core import promos
    from wxshop_cli.errors import NotFound, UsageError

    if spec is not None:
        return promos.apply_spec(session, spec, now=now, tz=tz, notify=notify, force=force)
    try:
        return promos.publish_code(session, target, now=now, tz=tz,
                                   notify=True if notify is None else notify)
    except NotFound:
        if not directory:
            raise
        # A directory named like a code, and no such promotion: the directory was meant.
        raise UsageError(f"{target}: is a directory, not a promotion file (and no promotion "
                         "has that code)", slug="invalid_file",
                         hint="give the promotion file inside it, or - to read the file "
                              "from stdin") from None


@app.command("unpublish")
def unpublish(code: Annotated[str, typer.Argument(metavar="CODE",
                                                  help="The promotion's code.")]) -> None:
    """Back to draft; only before the first sale (exit 5 after it).

    Examples:
      $ wxshop promo unpublish weekend
      $ wxshop --json promo unpublish weekend
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import promos
    from wxshop_cli.db.engine import database

    with database().transaction() as session:
        report = promos.unpublish(session, code, now=current().clock.now())
    emit_report(report, what="Unpublished")


@app.command("archive")
def archive(code: Annotated[str, typer.Argument(metavar="CODE", help="The promotion's code.")],
            yes: Yes = False) -> None:
    """Archive a promotion: it stops selling and can no longer change.

    Final. On a terminal it asks first (--yes skips the question).

    Examples:
      $ wxshop promo archive weekend
      $ wxshop promo archive double11-2013 --yes
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import promos
    from wxshop_cli.db.engine import database

    confirm_or_stop(f"Archive promotion {code}? It stops selling and can never change again.",
                    yes=yes)
    with database().transaction() as session:
        report = promos.archive(session, code, now=current().clock.now())
    emit_report(report, what="Archived")


@app.command("list")
def list_(
    region: Annotated[str | None, typer.Option("--region", metavar="CODE",
                                               help="Only promotions serving this region.")]
    = None,
    every: Annotated[bool, typer.Option("--all", help="Every promotion in every state (the "
                                                      "merchant's view).")] = False,
    limit: Limit = 100, after: After = None, page_info: PageInfo = False,
) -> None:
    """Live promotions, each item a one-line strip (the buyer's view).

    --all lists every promotion in every state instead (the merchant's view).

    Examples:
      $ wxshop promo list
      $ wxshop promo list --region 440000
      $ wxshop promo list --all --json
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import promos
    from wxshop_cli.core.paging import check_limit
    from wxshop_cli.core.regions import check_region
    from wxshop_cli.views.paging import page_out
    from wxshop_cli.views.promos import show_promos

    check_limit(limit)
    code = check_region(region, field="--region")["code"] if region is not None else None
    from wxshop_cli.db.engine import database

    settings = current()
    with database().transaction(read_only=True) as session:
        page = promos.list_promos(session, settings.clock.now(), settings.tz, region=code,
                                  every=every, limit=limit, after=after)
    if not every:  # the buyer's view: the funnel's "shown" (once per buyer, promotion, day)
        from wxshop_cli.core import funnel

        funnel.record_views(database(), settings.buyer, [p["code"] for p in page.rows],
                            settings.clock.now(), settings.tz)
    page_out(page, page_info, lambda shown: show_promos(shown, every=every))


@app.command("show")
def show(code: Annotated[str, typer.Argument(metavar="CODE", help="The promotion's code.")]
         ) -> None:
    """One promotion with its items and derived status.

    Examples:
      $ wxshop promo show double11-2013
      $ wxshop --json promo show double11-2013
    """
    from wxshop_cli.config import current
    from wxshop_cli.core import promos
    from wxshop_cli.db.engine import database
    from wxshop_cli.views.promos import show_promo

    settings = current()
    with database().transaction(read_only=True) as session:
        result = promos.show_promo(session, code, settings.clock.now(), settings.tz)
    show_promo(result)
