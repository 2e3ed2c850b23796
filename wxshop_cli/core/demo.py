"""`wxshop demo`: the Double 11 story end to end, told chapter by chapter (SPEC section 11).

Each chapter is a function that runs real services against the demo database and returns a
`Chapter`: a title, a JSON-able summary, and a Rich renderable for the terminal. The story is
the ordered list `STORY`; later features add their chapters to it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class DemoContext:
    db: Any  # wxshop_cli.db.engine.Database
    now: dt.datetime
    facts: dict[str, Any] = field(default_factory=dict)  # what chapters hand to later ones


@dataclass
class Chapter:
    title: str
    summary: dict[str, Any]
    renderable: Any = None  # a Rich renderable; None shows the summary as a panel


def shop(ctx: DemoContext) -> Chapter:
    from rich.table import Table

    from wxshop_cli.core import merchant
    from wxshop_cli.core.regions import all_regions

    with ctx.db.transaction(read_only=True) as session:
        settings = merchant.public(merchant.get_settings(session))
    table = Table.grid(padding=(0, 2))
    table.add_row("WeChat app id", settings["app_id"])
    table.add_row("merchant number", settings["mch_id"])
    table.add_row("fee rate", settings["fee_rate"])
    table.add_row("regions served", f"{len(all_regions())} provincial-level divisions")
    return Chapter("The shop opens", {**settings, "regions": len(all_regions())}, table)


DEMO_BUYER = "me"
DEMO_PAY_PASSWORD = "201311"  # the demo's buyer types it twice on a real terminal


def bind_card(ctx: DemoContext) -> Chapter:
    """Buyer `me` binds the sandbox's ICBC test card: SMS code in the inbox, first card sets
    the payment password."""
    from rich.table import Table

    from wxshop_cli.config import current
    from wxshop_cli.core import cards
    from wxshop_cli.core.inbox import find_message

    tz = current().tz
    data = cards.check_card_input("6222020000000000000", "张三", "11010519491231002X",
                                  "13800138000", None, None, ctx.now.astimezone(tz).date())
    started = cards.start_binding(ctx.db, DEMO_BUYER, data, ctx.now, tz=tz)
    with ctx.db.transaction() as session:
        from wxshop_cli.core.buyers import require_buyer

        sms = find_message(session, require_buyer(session, DEMO_BUYER).id, started.message_id)
        assert sms is not None and sms.code is not None
        sms.read = True
        session.add(sms)
        code, text = sms.code, sms.text
    card = cards.confirm_binding(ctx.db, DEMO_BUYER, started.binding_id, code, ctx.now,
                                 password=DEMO_PAY_PASSWORD, tz=tz)
    ctx.facts.update(buyer=DEMO_BUYER, card_id=card["id"], pay_password=DEMO_PAY_PASSWORD)
    table = Table.grid(padding=(0, 2))
    table.add_column()
    table.add_column(overflow="fold")
    table.add_row("inbox (sms)", text)
    table.add_row("card", f"{card['display']}  {card['masked_number']}")
    table.add_row("holder / mobile", f"{card['holder_masked']}  {card['phone_masked']}")
    table.add_row("payment password", "set with the first card (6 digits, scrypt-hashed)")
    return Chapter("Bind a card once", {
        "buyer": DEMO_BUYER, "card_id": card["id"], "card": card["display"],
        "masked_number": card["masked_number"], "sms": text}, table)


def save_address(ctx: DemoContext) -> Chapter:
    """Buyer `me` saves a Shanghai address; the mobile is shown masked."""
    from rich.table import Table

    from wxshop_cli.config import current
    from wxshop_cli.core import addresses

    data = addresses.check_address_input("310000", "上海市", "浦东新区世纪大道100号",
                                         "张三", "13912345678")
    address = addresses.add_address(ctx.db, DEMO_BUYER, data, ctx.now, tz=current().tz)
    ctx.facts.update(address_id=address["id"], region="310000")
    table = Table.grid(padding=(0, 2))
    table.add_row("ship to", f"{address['region']} {address['city']} {address['street']}")
    table.add_row("contact", f"{address['contact']}  {address['phone_masked']}")
    table.add_row("default", "yes: offered back at checkout, no retyping")
    return Chapter("Save an address", {
        "address_id": address["id"], "region": address["region"],
        "phone_masked": address["phone_masked"], "is_default": address["is_default"]}, table)


#: The story happens on the morning of Double 11 2013 unless --now/WXSHOP_NOW says otherwise.
DOUBLE11_MORNING = "2013-11-11T10:00:00+08:00"


def publish_double11(ctx: DemoContext) -> Chapter:
    """The merchant publishes 双11精选商品 from the shipped double11 fixture (its buyers,
    cards and addresses first, then the promotion file's keys) with a push to every buyer
    with a bound card whose default address is in a target region."""
    from rich.table import Table

    from wxshop_cli.clock import human, parse_instant
    from wxshop_cli.config import current
    from wxshop_cli.core.fixtures import apply_steps, load_steps
    from wxshop_cli.core.regions import region_name

    settings = current()
    published = apply_steps(ctx.db, load_steps("double11"), ctx.now)["double11"]
    with ctx.db.transaction(read_only=True) as session:
        from wxshop_cli.core import promos

        promo = promos.show_promo(session, published["id"], ctx.now, settings.tz)
    ctx.facts.update(promo_code=promo["code"], items=published["items"])
    regions = ", ".join(region_name(code) for code in promo["regions"]) or "nationwide"
    table = Table.grid(padding=(0, 2))
    table.add_row("promotion", f"{promo['title']} ({promo['code']}): {promo['status']}")
    window = [human(parse_instant(promo[key], settings.tz), settings.tz)[:16]
              for key in ("starts_at", "ends_at")]
    table.add_row("window", f"{window[0]} → {window[1]} ({settings.tz.key})")
    table.add_row("regions", regions)
    table.add_row("items", f"{len(promo['items'])} (phones, appliances, snacks)")
    table.add_row("pushed", f"{published['notified']} buyers' inboxes (bound card, default "
                            "address in a target region)")
    return Chapter("双11精选商品 is published with a push", {
        "code": promo["code"], "status": promo["status"], "regions": promo["regions"],
        "items": len(promo["items"]), "notified": published["notified"]}, table)


def promo_strips(ctx: DemoContext) -> Chapter:
    """What the buyer sees: the red dot on "My bank cards" and the live items as strips."""
    from rich.console import Group
    from rich.text import Text

    from wxshop_cli.commands.promo import strips
    from wxshop_cli.config import current
    from wxshop_cli.core import promos
    from wxshop_cli.core.buyers import find_buyer
    from wxshop_cli.core.inbox import unread_count

    buyer_name = ctx.facts.get("buyer", "me")
    region = ctx.facts.get("region")
    with ctx.db.transaction(read_only=True) as session:
        shown = promos.list_promos(session, ctx.now, current().tz, region=region)
        buyer = find_buyer(session, buyer_name)
        unread = unread_count(session, buyer.id) if buyer is not None and buyer.id else 0
    dot = Text.assemble(("● " if unread else "○ ", "bold red"), "我的银行卡 My bank cards  ",
                        (f"{unread} unread" if unread else "nothing new", "bold"),
                        f"  (buyer {buyer_name})")
    count = sum(len(promo["items"]) for promo in shown)
    return Chapter("The red dot and the promo strips", {
        "buyer": buyer_name, "unread": unread, "region": region, "strips": count},
        Group(dot, Text(""), strips(shown)))


def _buy(ctx: DemoContext, buyer: str, password: str, item: str, key: str) -> Any:
    """One purchase exactly as `wxshop buy` makes it: password first, then checkout."""
    from wxshop_cli.core import checkout
    from wxshop_cli.core.paypassword import verify_pay_password
    from wxshop_cli.gateway import get_gateway

    verify_pay_password(ctx.db, buyer, password, ctx.now)
    return checkout.place_order(ctx.db, get_gateway(ctx.db), buyer,
                                checkout.BuyRequest(item=item), ctx.now, key)


def _strip_of(ctx: DemoContext, sku: str) -> dict[str, Any]:
    from wxshop_cli.config import current
    from wxshop_cli.core import promos

    with ctx.db.transaction(read_only=True) as session:
        promo = promos.show_promo(session, ctx.facts["promo_code"], ctx.now, current().tz)
    return next(item for item in promo["items"] if item["sku"] == sku)


def buy_in_one_step(ctx: DemoContext) -> Chapter:
    """Region → item → saved address → bound card: one command, no detail page, no cashier."""
    from rich.table import Table

    from wxshop_cli.config import current
    from wxshop_cli.core.addresses import address_public, get_address
    from wxshop_cli.core.cards import card_display, payment_card
    from wxshop_cli.money import display

    before = _strip_of(ctx, "YX-1001")
    outcome = _buy(ctx, DEMO_BUYER, ctx.facts["pay_password"], "YX-1001", "demo-iphone")
    if outcome.error is not None:
        raise outcome.error
    order = outcome.order
    with ctx.db.transaction(read_only=True) as session:
        address = address_public(get_address(session, order.buyer_id, order.address_id),
                                 current().tz)
        card = card_display(payment_card(session, order.buyer_id, order.card_id))
    after = _strip_of(ctx, "YX-1001")
    table = Table.grid(padding=(0, 2))
    table.add_row("wxshop buy", "YX-1001  (region 上海市 → item → saved address → bound card)")
    table.add_row("item", f"{order.title}  [bold]{display(order.amount_fen)}[/bold]  "
                          f"[strike dim]{display(before['list_price_fen'])}[/strike dim]")
    table.add_row("ship to", f"{address['region']} {address['city']} {address['street']}  "
                             f"{address['phone_masked']}  (offered back, not retyped)")
    table.add_row("paid with", card)
    table.add_row("order", f"{order.order_no}  {order.status}  transaction "
                           f"{order.transaction_id}")
    table.add_row("stock left", f"{before['stock_left']} → {after['stock_left']}")
    ctx.facts.update(order_no=order.order_no)
    return Chapter("Buy in one step", {
        "order_no": order.order_no, "status": order.status, "sku": order.sku,
        "amount_fen": order.amount_fen, "transaction_id": order.transaction_id,
        "stock_left": after["stock_left"]}, table)


def sold_out(ctx: DemoContext) -> Chapter:
    """小米盒子 has one unit: lilei (from the double11 fixture) gets it, `me` is too late."""
    from rich.table import Table

    from wxshop_cli.money import display

    winner = _buy(ctx, "lilei", "201311", "YX-2005", "demo-box-lilei")
    loser = _buy(ctx, DEMO_BUYER, ctx.facts["pay_password"], "YX-2005", "demo-box-me")
    if winner.error is not None or loser.error is None:
        raise winner.error or RuntimeError("the last unit sold twice")
    table = Table.grid(padding=(0, 2))
    table.add_row("lilei", f"paid {display(winner.order.amount_fen)}  {winner.order.order_no}")
    table.add_row(DEMO_BUYER, f"[red]{loser.error.message}[/red]  "
                              f"(exit {loser.error.exit_code}, nothing charged)")
    table.add_row("stock left", str(_strip_of(ctx, "YX-2005")["stock_left"]))
    return Chapter("The last unit: sold out", {
        "sku": "YX-2005", "winner": "lilei", "winner_order": winner.order.order_no,
        "loser": DEMO_BUYER, "loser_exit_code": loser.error.exit_code,
        "loser_error": loser.error.slug}, table)


def declined_card(ctx: DemoContext) -> Chapter:
    """A buyer whose bank declines: the order closes and its stock goes back to the shelf."""
    from rich.table import Table

    from wxshop_cli.config import current
    from wxshop_cli.core import addresses, cards
    from wxshop_cli.core.inbox import find_message

    buyer, password = "wangfang", "860715"
    tz = current().tz
    data = cards.check_card_input("6222020000000004002", "王芳", "440304199003077738",
                                  "13700137000", None, None, ctx.now.astimezone(tz).date())
    started = cards.start_binding(ctx.db, buyer, data, ctx.now, tz=tz)
    with ctx.db.transaction(read_only=True) as session:
        from wxshop_cli.core.buyers import require_buyer

        code = find_message(session, require_buyer(session, buyer).id,
                            started.message_id).code
    card = cards.confirm_binding(ctx.db, buyer, started.binding_id, code, ctx.now,
                                 password=password, tz=tz)
    addresses.add_address(ctx.db, buyer, addresses.check_address_input(
        "440000", "深圳市", "南山区科技园 1 号", "王芳", "13700137000"), ctx.now, tz=tz)
    before = _strip_of(ctx, "YX-3001")["stock_left"]
    outcome = _buy(ctx, buyer, password, "YX-3001", "demo-declined")
    if outcome.error is None:
        raise RuntimeError("the declining test card was charged")
    after = _strip_of(ctx, "YX-3001")["stock_left"]
    table = Table.grid(padding=(0, 2))
    table.add_row("buyer", f"{buyer}, paying with {card['display']} (a declining test card)")
    table.add_row("bank", f"[red]{outcome.error.message}[/red] (exit {outcome.error.exit_code})")
    table.add_row("order", f"{outcome.order.order_no}  {outcome.order.status}")
    table.add_row("stock", f"{before} → {after} (given back)")
    return Chapter("A declined card", {
        "buyer": buyer, "order_no": outcome.order.order_no, "status": outcome.order.status,
        "exit_code": outcome.error.exit_code, "error": outcome.error.slug,
        "stock_left": after}, table)


STORY: list[Callable[[DemoContext], Chapter]] = [shop, bind_card, save_address, publish_double11,
                                                  promo_strips, buy_in_one_step, sold_out,
                                                  declined_card]


def run_story(db: Any, now: dt.datetime,
              show: Callable[[int, Chapter], None] | None = None) -> list[Chapter]:
    from wxshop_cli.clock import Clock, parse_instant
    from wxshop_cli.config import current

    settings = current()
    # The story happens on Double 11 2013: its promotion window is fixed, so the demo keeps
    # its own clock (one story time for every chapter and service) whatever --now says.
    story_time = parse_instant(DOUBLE11_MORNING, settings.tz)
    if settings.clock.frozen is not None and settings.clock.frozen != story_time:
        from wxshop_cli.output import warn

        warn(f"the demo happens at {DOUBLE11_MORNING}; --now/WXSHOP_NOW is ignored")
    settings.clock = Clock(story_time)
    now = settings.clock.now()
    ctx = DemoContext(db=db, now=now)
    chapters = []
    for number, chapter_fn in enumerate(STORY, start=1):
        chapter = chapter_fn(ctx)
        chapters.append(chapter)
        if show is not None:
            show(number, chapter)
    return chapters


# ------------------------------------------------------------------ the merchant's morning after


def _bill_dir() -> Any:
    """Where the demo leaves its bills: the data directory (beside demo.db) when it exists."""
    import tempfile
    from pathlib import Path

    from wxshop_cli.config import current

    home = current().home
    return home if home.is_dir() else Path(tempfile.mkdtemp(prefix="wxshop-demo-"))


def _reconciled(ctx: DemoContext, path: Any, day: dt.date) -> dict[str, Any]:
    from wxshop_cli.config import current
    from wxshop_cli.core import reconcile
    from wxshop_cli.core.billformat import open_bill

    with open_bill(path) as source:
        outcome = reconcile.reconcile(ctx.db, source, bill_date=day, rerun=True, now=ctx.now)
    with ctx.db.transaction(read_only=True) as session:
        return reconcile.run_public(session, outcome.run_id, current().tz)


def reconcile_bill(ctx: DemoContext) -> Chapter:
    """The next morning the merchant downloads the day's WeChat Pay bill (the sandbox
    platform's ledger, exported) and proves every fen of it against the order book."""
    from rich.table import Table

    from wxshop_cli.clock import beijing
    from wxshop_cli.core.bill_export import write_bill
    from wxshop_cli.money import display

    day = ctx.now.astimezone(beijing()).date()
    path = _bill_dir() / f"demo-bill-{day.isoformat()}.csv"
    with open(path, "wb") as out:
        exported = write_bill(ctx.db, day, "ALL", out)
    run = _reconciled(ctx, path, day)
    ctx.facts.update(bill_path=str(path), bill_date=day, clean_run=run["run_id"])
    bill, book = run["totals"]["bill"], run["totals"]["book"]
    verdict = ("[green]✓ clean: nothing open[/green]" if run["open"] == 0
               else f"[red]✗ {run['open']} open[/red]")
    table = Table.grid(padding=(0, 2))
    table.add_row("wxshop bill export", f"--date {day}  →  {path}")
    fees = display(exported.summary.fee_total_fen)
    table.add_row("bill", f"{exported.summary.count} rows: {exported.payments} payments, "
                          f"{exported.refunds} refunds, fees {fees}  "
                          f"(sha256 {exported.sha256[:12]}…)")
    table.add_row("wxshop reconcile", f"{run['matched']} of {run['rows']} rows matched  "
                                      f"{verdict}")
    table.add_row("bill / book", f"{bill['payments']} · {display(bill['payment_fen'])}  /  "
                                 f"{book['payments']} · {display(book['payment_fen'])}")
    return Chapter("The morning after: the bill reconciles", {
        "bill": str(path), "bill_date": day.isoformat(), "rows": run["rows"],
        "payments": exported.payments, "refunds": exported.refunds,
        "sha256": exported.sha256, "run_id": run["run_id"], "matched": run["matched"],
        "open": run["open"]}, table)


def planted_difference(ctx: DemoContext) -> Chapter:
    """An operator's script edits the bill as a platform error would look — one payment a
    yuan dearer, the summary recomputed so the file still adds up — and reconciliation finds
    exactly that. With no payment that day, a payment the shop never took is planted."""
    import dataclasses

    from rich.table import Table

    from wxshop_cli.core.billformat import BillReader, BillRow, BillWriter, open_bill
    from wxshop_cli.money import display, fee_fen

    if "bill_path" not in ctx.facts:
        reconcile_bill(ctx)
    day, source_path = ctx.facts["bill_date"], ctx.facts["bill_path"]
    planted_path = _bill_dir() / f"demo-bill-{day.isoformat()}-edited.csv"
    what = ""
    with open_bill(source_path) as source, source.open() as stream, open(
            planted_path, "w", encoding="utf-8", newline="") as out:
        reader = BillReader(stream)
        writer = BillWriter(out, reader.bill_type)
        for row in reader:
            if not what and row.kind == "payment":
                bigger = row.order_fen + 100
                what = (f"line {row.line_no}: {row.out_trade_no} {display(row.order_fen)} → "
                        f"{display(bigger)}")
                row = dataclasses.replace(row, settlement_fen=bigger, order_fen=bigger,
                                          fee_fen=fee_fen(bigger, row.rate_ppm or 6000))
            writer.write(row)
        if not what:
            when = dt.datetime.combine(day, dt.time(12, 0))
            with ctx.db.transaction(read_only=True) as session:
                from wxshop_cli.core.merchant import get_settings

                settings = get_settings(session)
            stray = BillRow(line_no=0, kind="payment", trade_time=when,
                            app_id=settings.app_id, mch_id=settings.mch_id, sub_mch_id="0",
                            transaction_id="4200000001" + day.strftime("%Y%m%d") + "9" * 10,
                            out_trade_no="D" + day.strftime("%Y%m%d") + "9" * 10,
                            openid="oWXSHOP_stranger", trade_type="JSAPI",
                            trade_state="SUCCESS", bank_code="OTHERS", currency="CNY",
                            settlement_fen=10000, product="a payment the shop never took",
                            fee_fen=fee_fen(10000, settings.fee_rate_ppm),
                            rate_ppm=settings.fee_rate_ppm, order_fen=10000)
            writer.write(stray)
            what = f"a payment {stray.out_trade_no} of {display(10000)} the shop never took"
        writer.finish()
    run = _reconciled(ctx, planted_path, day)
    table = Table(header_style="bold", box=None, padding=(0, 2))
    for header in ("kind", "line", "order", "bill", "book", "detail"):
        table.add_column(header, justify="right" if header in ("bill", "book") else "left")
    for item in run["discrepancies"]:
        table.add_row(f"[red]{item['kind']}[/red]", str(item["line_no"] or ""),
                      item["out_trade_no"] or "",
                      display(item["bill_amount_fen"]) if item["bill_amount_fen"] is not None
                      else "", display(item["book_amount_fen"])
                      if item["book_amount_fen"] is not None else "", item["detail"])
    from rich.console import Group
    from rich.text import Text

    head = Text.assemble("planted: ", (what, "bold"), "\n",
                         f"wxshop reconcile: {run['matched']} of {run['rows']} rows matched, "
                         f"{run['open']} open (exit 8)\n")
    return Chapter("A planted difference is found", {
        "bill": str(planted_path), "planted": what, "run_id": run["run_id"],
        "open": run["open"], "kinds": [d["kind"] for d in run["discrepancies"]]},
        Group(head, table))


STORY += [reconcile_bill, planted_difference]
