"""Shipping addresses (SPEC section 6): region code, city, street, contact, mobile.

The mobile is kept (a courier needs it) and shown masked. The buyer's first address becomes
the default; removing the default promotes the oldest remaining one. Removed addresses keep
their row (`removed_at`) for order history and are otherwise gone: listing, `default` and
`remove` no longer see them (exit 4).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from wxshop_cli.clock import iso
from wxshop_cli.core import identity
from wxshop_cli.core.paging import DEFAULT_LIMIT, Key, Ordering, Page, empty_page, read_page
from wxshop_cli.core.regions import check_region, region_name
from wxshop_cli.core.text import describe, invisible_char
from wxshop_cli.db.models import Address
from wxshop_cli.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

#: Longest value accepted per field, in characters (the column sizes).
LIMITS = {"city": 64, "street": 200, "contact": 64}



def check_text(value: str, field: str) -> str:
    """Strip, NFC-normalise, and refuse empty, too long or control/invisible characters."""
    text = unicodedata.normalize("NFC", value.strip()) if isinstance(value, str) else ""
    if not text:
        raise InvalidInput(f"{field} is empty", slug="invalid_address",
                           hint=f"give --{field} TEXT")
    if len(text) > LIMITS[field]:
        raise InvalidInput(f"{field} is longer than {LIMITS[field]} characters",
                           slug="invalid_address",
                           hint=f"shorten it to {LIMITS[field]} characters or fewer")
    bad = invisible_char(text)
    if bad is not None:
        raise InvalidInput(f"{field} contains a control or invisible character ({describe(bad)})",
                           slug="invalid_address",
                           hint="retype it; text copied from a web page or chat can bring "
                                "hidden characters")
    return text


@dataclass(frozen=True)
class AddressInput:
    region_code: str
    city: str
    street: str
    contact: str
    phone: str


def check_address_input(region: str, city: str, street: str, contact: str,
                        phone: str) -> AddressInput:
    """Every form check, before any state is read (all exit 3)."""
    code = check_region(region)["code"]
    return AddressInput(region_code=code, city=check_text(city, "city"),
                        street=check_text(street, "street"),
                        contact=check_text(contact, "contact"),
                        phone=identity.check_mobile(phone))


def address_public(address: Address, tz: dt.tzinfo) -> dict[str, Any]:
    """The JSON shape of SPEC section 3 (the mobile masked), plus `created_at`."""
    return {
        "id": address.id,
        "region_code": address.region_code,
        "region": region_name(address.region_code),
        "city": address.city,
        "street": address.street,
        "contact": address.contact,
        "phone_masked": identity.mask_mobile(address.phone),
        "is_default": address.is_default,
        "created_at": iso(address.created_at, tz),
    }


def _active(buyer_id: int):
    return select(Address).where(Address.buyer_id == buyer_id,
                                 col(Address.removed_at).is_(None))


def _clear_default(session: Session, buyer_id: int) -> None:
    from sqlalchemy import update

    session.execute(update(Address).where(col(Address.buyer_id) == buyer_id)
                    .values(is_default=False))


def add_address(session: Session, buyer_name: str, data: AddressInput, now: dt.datetime, *,
                make_default: bool = False, tz: ZoneInfo | None = None) -> dict[str, Any]:
    """Save an address (the buyer is created on first use). The first one, or one added
    with `make_default`, becomes the default."""
    from wxshop_cli.core.buyers import get_or_create_buyer
    from wxshop_cli.core.inbox import ordered_id

    buyer = get_or_create_buyer(session, buyer_name, now)
    has_default = session.exec(
        _active(buyer.id).where(col(Address.is_default).is_(True))).first() is not None
    is_default = make_default or not has_default
    if is_default:
        _clear_default(session, buyer.id)
    address = Address(id=ordered_id("addr"), buyer_id=buyer.id, region_code=data.region_code,
                      city=data.city, street=data.street, contact=data.contact,
                      phone=data.phone, is_default=is_default, removed_at=None,
                      created_at=now)
    session.add(address)
    session.flush()
    return address_public(address, tz or dt.UTC)


#: `address list`: the default first, then oldest first (by `buyer_id`'s index; the id makes
#: the order unique).
ADDRESSES = Ordering("addresses", (Key(Address.is_default, "bool", descending=True),
                                   Key(Address.created_at, "time"), Key(Address.id, "str")))


def list_addresses(session: Session, buyer_name: str, *, tz: ZoneInfo | None = None,
                   limit: int = DEFAULT_LIMIT, after: str | None = None) -> Page:
    """A page of the buyer's addresses, the default first, then oldest first (reads only)."""
    from wxshop_cli.core.buyers import find_buyer

    buyer = find_buyer(session, buyer_name)
    if buyer is None:
        return empty_page(ADDRESSES, limit=limit, after=after)
    page = read_page(session, _active(buyer.id), ADDRESSES, limit=limit, after=after)
    return page.map(lambda row: address_public(row, tz or dt.UTC))


def _require(session: Session, buyer_name: str, address_id: str) -> Address:
    from wxshop_cli.core.buyers import find_buyer

    buyer = find_buyer(session, buyer_name)
    address = session.get(Address, address_id, with_for_update=True) if buyer else None
    if (buyer is None or address is None or address.buyer_id != buyer.id
            or address.removed_at is not None):
        raise NotFound(f"no address {address_id!r} for buyer {buyer_name!r}",
                       slug="address_not_found", hint="see `wxshop address list`")
    return address


def set_default_address(session: Session, buyer_name: str, address_id: str, *,
                        tz: ZoneInfo | None = None) -> dict[str, Any]:
    """Make an address the default; the result has `changed` (false if it already was)."""
    address = _require(session, buyer_name, address_id)
    changed = not address.is_default
    if changed:
        _clear_default(session, address.buyer_id)
        address.is_default = True
        session.add(address)
        session.flush()
    return {**address_public(address, tz or dt.UTC), "changed": changed}


def remove_address(session: Session, buyer_name: str, address_id: str, now: dt.datetime, *,
                   tz: ZoneInfo | None = None) -> dict[str, Any]:
    """Remove an address (its row stays for order history). If it was the default, the
    oldest remaining address becomes the default. The result has `removed: true` and
    `new_default` (an address id or null)."""
    address = _require(session, buyer_name, address_id)
    was_default = address.is_default
    address.removed_at = now
    address.is_default = False
    session.add(address)
    session.flush()
    new_default: str | None = None
    if was_default:
        successor = session.exec(_active(address.buyer_id).order_by(
            col(Address.created_at), col(Address.id))).first()
        if successor is not None:
            successor.is_default = True
            session.add(successor)
            new_default = successor.id
    session.flush()
    return {**address_public(address, tz or dt.UTC), "removed": True,
            "new_default": new_default}


# ---------------------------------------------------------------- for checkout


def default_address(session: Session, buyer_id: int,
                    region_code: str | None = None) -> Address | None:
    """The buyer's default address; with `region_code`, the default among the addresses in
    that region (the default address if it is there, else the oldest one there)."""
    statement = _active(buyer_id)
    if region_code is not None:
        statement = statement.where(Address.region_code == region_code)
    return session.exec(statement.order_by(col(Address.is_default).desc(),
                                           col(Address.created_at), col(Address.id))).first()


def get_address(session: Session, buyer_id: int, address_id: str) -> Address:
    """One of the buyer's current addresses, or NotFound (4) `address_not_found`."""
    address = session.get(Address, address_id)
    if (address is None or address.buyer_id != buyer_id or address.removed_at is not None):
        raise NotFound(f"no address {address_id!r}", slug="address_not_found",
                       hint="see `wxshop address list`")
    return address
