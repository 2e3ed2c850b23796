"""The demo's morning of Double 11: the shop opens, `me` binds a card and saves an address,
the merchant publishes 双11精选商品 with a push, the buyer sees the red dot and the strips,
buys in one step, is too late for the last unit, and a declining card closes its order."""

from __future__ import annotations

from functools import partial
from typing import Any

from wxshop_cli.demo.context import DEMO_BUYER, DEMO_PAY_PASSWORD, Chapter, DemoContext
from wxshop_cli.views import demo as view


def shop(ctx: DemoContext) -> Chapter:
    from wxshop_cli.core import merchant
    from wxshop_cli.core.regions import all_regions

    with ctx.db.transaction(read_only=True) as session:
        settings = merchant.settings_public(merchant.get_settings(session))
    rows = [("WeChat app id", settings["app_id"]), ("merchant number", settings["mch_id"]),
            ("fee rate", settings["fee_rate"]),
            ("regions served", f"{len(all_regions())} provincial-level divisions")]
    return Chapter("The shop opens", {**settings, "regions": len(all_regions())},
                   partial(view.facts, rows))


def _bind(ctx: DemoContext, buyer: str, card_input: tuple[str, str, str, str], password: str,
          *, read: bool) -> tuple[dict[str, Any], str]:
    """Bind a sandbox test card as `wxshop bind-card` does (the SMS code taken from the
    inbox, marked read if `read`): (the card, the SMS text)."""
    from wxshop_cli.config import current
    from wxshop_cli.core import cards
    from wxshop_cli.core.buyers import require_buyer
    from wxshop_cli.core.inbox import find_message

    tz = current().tz
    data = cards.check_card_input(*card_input, None, None, ctx.now.astimezone(tz).date())
    started = cards.start_binding(ctx.db, buyer, data, ctx.now, tz=tz)
    with ctx.db.transaction() as session:
        sms = find_message(session, require_buyer(session, buyer).id, started.message_id)
        assert sms is not None and sms.code is not None
        if read:
            sms.read = True
            session.add(sms)
        code, text = sms.code, sms.text
    card = cards.confirm_binding(ctx.db, buyer, started.binding_id, code, ctx.now,
                                 password=password, tz=tz)
    return card, text


def bind_card(ctx: DemoContext) -> Chapter:
    """Buyer `me` binds the sandbox's ICBC test card: SMS code in the inbox, first card sets
    the payment password."""
    card, text = _bind(ctx, DEMO_BUYER, ("6222020000000000000", "张三", "11010519491231002X",
                                         "13800138000"), DEMO_PAY_PASSWORD, read=True)
    ctx.facts.update(buyer=DEMO_BUYER, card_id=card["id"], pay_password=DEMO_PAY_PASSWORD)
    rows = [("inbox (sms)", text), ("card", f"{card['display']}  {card['masked_number']}"),
            ("holder / mobile", f"{card['holder_masked']}  {card['phone_masked']}"),
            ("payment password", "set with the first card (6 digits, scrypt-hashed)")]
    return Chapter("Bind a card once", {
        "buyer": DEMO_BUYER, "card_id": card["id"], "card": card["display"],
        "masked_number": card["masked_number"], "sms": text},
        partial(view.facts, rows, fold=True))


def save_address(ctx: DemoContext) -> Chapter:
    """Buyer `me` saves a Shanghai address; the mobile is shown masked."""
    from wxshop_cli.config import current
    from wxshop_cli.core import addresses

    data = addresses.check_address_input("310000", "上海市", "浦东新区世纪大道100号",
                                         "张三", "13912345678")
    with ctx.db.transaction() as session:
        address = addresses.add_address(session, DEMO_BUYER, data, ctx.now, tz=current().tz)
    ctx.facts.update(address_id=address["id"], region="310000")
    rows = [("ship to", f"{address['region']} {address['city']} {address['street']}"),
            ("contact", f"{address['contact']}  {address['phone_masked']}"),
            ("default", "yes: offered back at checkout, no retyping")]
    return Chapter("Save an address", {
        "address_id": address["id"], "region": address["region"],
        "phone_masked": address["phone_masked"], "is_default": address["is_default"]},
        partial(view.facts, rows))


def publish_double11(ctx: DemoContext) -> Chapter:
    """The merchant publishes 双11精选商品 from the shipped double11 fixture (its buyers,
    cards and addresses first, then the promotion file's keys) with a push to every buyer
    with a bound card whose default address is in a target region."""
    from wxshop_cli.clock import human, parse_instant
    from wxshop_cli.config import current
    from wxshop_cli.core import promos
    from wxshop_cli.core.fixtures import apply_steps, load_steps
    from wxshop_cli.core.regions import region_name

    tz = current().tz
    published = apply_steps(ctx.db, load_steps("double11"), ctx.now)["double11"]
    with ctx.db.transaction(read_only=True) as session:
        promo = promos.show_promo(session, published["id"], ctx.now, tz)
    ctx.facts.update(promo_code=promo["code"], items=published["items"])
    regions = ", ".join(region_name(code) for code in promo["regions"]) or "nationwide"
    window = [human(parse_instant(promo[key], tz), tz)[:16] for key in ("starts_at", "ends_at")]
    rows = [("promotion", f"{promo['title']} ({promo['code']}): {promo['status']}"),
            ("window", f"{window[0]} → {window[1]} ({tz.key})"), ("regions", regions),
            ("items", f"{len(promo['items'])} (phones, appliances, snacks)"),
            ("pushed", f"{published['notified']} buyers' inboxes (bound card, default "
                       "address in a target region)")]
    return Chapter("双11精选商品 is published with a push", {
        "code": promo["code"], "status": promo["status"], "regions": promo["regions"],
        "items": len(promo["items"]), "notified": published["notified"]},
        partial(view.facts, rows))


def promo_strips(ctx: DemoContext) -> Chapter:
    """What the buyer sees: the red dot on "My bank cards" and the live items as strips."""
    from wxshop_cli.config import current
    from wxshop_cli.core import promos
    from wxshop_cli.core.buyers import find_buyer
    from wxshop_cli.core.inbox import unread_count

    buyer_name = ctx.facts.get("buyer", "me")
    region = ctx.facts.get("region")
    with ctx.db.transaction(read_only=True) as session:
        shown = promos.list_promos(session, ctx.now, current().tz, region=region).rows
        buyer = find_buyer(session, buyer_name)
        unread = unread_count(session, buyer.id) if buyer is not None and buyer.id else 0
    count = sum(len(promo["items"]) for promo in shown)
    return Chapter("The red dot and the promo strips", {
        "buyer": buyer_name, "unread": unread, "region": region, "strips": count},
        partial(view.red_dot, buyer_name, unread, shown))


def _buy(ctx: DemoContext, buyer: str, password: str, item: str, key: str) -> Any:
    """One purchase exactly as `wxshop buy` makes it: password first, then checkout."""
    from wxshop_cli.core import checkout
    from wxshop_cli.gateway import get_gateway

    checkout.verify_password(ctx.db, buyer, password, item, ctx.now)
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
    rows = [("wxshop buy", "YX-1001  (region 上海市 → item → saved address → bound card)"),
            ("item", f"{order.title}  [bold]{display(order.amount_fen)}[/bold]  "
                     f"[strike dim]{display(before['list_price_fen'])}[/strike dim]"),
            ("ship to", f"{address['region']} {address['city']} {address['street']}  "
                        f"{address['phone_masked']}  (offered back, not retyped)"),
            ("paid with", card),
            ("order", f"{order.order_no}  {order.status}  transaction {order.transaction_id}"),
            ("stock left", f"{before['stock_left']} → {after['stock_left']}")]
    ctx.facts.update(order_no=order.order_no)
    return Chapter("Buy in one step", {
        "order_no": order.order_no, "status": order.status, "sku": order.sku,
        "amount_fen": order.amount_fen, "transaction_id": order.transaction_id,
        "stock_left": after["stock_left"]}, partial(view.facts, rows))


def sold_out(ctx: DemoContext) -> Chapter:
    """小米盒子 has one unit: lilei (from the double11 fixture) gets it, `me` is too late."""
    from wxshop_cli.money import display

    winner = _buy(ctx, "lilei", "201311", "YX-2005", "demo-box-lilei")
    loser = _buy(ctx, DEMO_BUYER, ctx.facts["pay_password"], "YX-2005", "demo-box-me")
    if winner.error is not None or loser.error is None:
        raise winner.error or RuntimeError("the last unit sold twice")
    rows = [("lilei", f"paid {display(winner.order.amount_fen)}  {winner.order.order_no}"),
            (DEMO_BUYER, f"[red]{loser.error.message}[/red]  "
                         f"(exit {loser.error.exit_code}, nothing charged)"),
            ("stock left", str(_strip_of(ctx, "YX-2005")["stock_left"]))]
    return Chapter("The last unit: sold out", {
        "sku": "YX-2005", "winner": "lilei", "winner_order": winner.order.order_no,
        "loser": DEMO_BUYER, "loser_exit_code": loser.error.exit_code,
        "loser_error": loser.error.slug}, partial(view.facts, rows))


def declined_card(ctx: DemoContext) -> Chapter:
    """A buyer whose bank declines: the order closes and its stock goes back to the shelf."""
    from wxshop_cli.config import current
    from wxshop_cli.core import addresses

    buyer, password = "wangfang", "860715"
    card, _ = _bind(ctx, buyer, ("6222020000000004002", "王芳", "440304199003077738",
                                 "13700137000"), password, read=False)
    data = addresses.check_address_input("440000", "深圳市", "南山区科技园 1 号", "王芳",
                                         "13700137000")
    with ctx.db.transaction() as session:
        addresses.add_address(session, buyer, data, ctx.now, tz=current().tz)
    before = _strip_of(ctx, "YX-3001")["stock_left"]
    outcome = _buy(ctx, buyer, password, "YX-3001", "demo-declined")
    if outcome.error is None:
        raise RuntimeError("the declining test card was charged")
    after = _strip_of(ctx, "YX-3001")["stock_left"]
    rows = [("buyer", f"{buyer}, paying with {card['display']} (a declining test card)"),
            ("bank", f"[red]{outcome.error.message}[/red] (exit {outcome.error.exit_code})"),
            ("order", f"{outcome.order.order_no}  {outcome.order.status}"),
            ("stock", f"{before} → {after} (given back)")]
    return Chapter("A declined card", {
        "buyer": buyer, "order_no": outcome.order.order_no, "status": outcome.order.status,
        "exit_code": outcome.error.exit_code, "error": outcome.error.slug,
        "stock_left": after}, partial(view.facts, rows))
