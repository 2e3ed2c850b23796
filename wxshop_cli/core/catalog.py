"""The catalog: products with a SKU, title, one image URL, a one-line description, a list price
and their own stock (SPEC section 7). Product stock serves purchases at list price; promotions
carry their own allocations (core/promos.py).

The checks here are pure (no database) so that the promotion file reader can collect every
mistake of a file before anything is opened.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlmodel import Session, select

from wxshop_cli.db.models import Product
from wxshop_cli.db.sql import insert_ignore
from wxshop_cli.errors import Conflict, InvalidInput, NotFound

SKU = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)
URL = re.compile(r"https?://[^\s]+", re.ASCII)
TITLE_MAX = 200
TEXT_MAX = 500
#: Stock and allocations are counts of units; a bound keeps them far inside 64 bits.
STOCK_MAX = 100_000_000


# ------------------------------------------------------------------ pure checks
# Each returns the cleaned value or raises InvalidInput whose message starts with `field`.


def check_sku(sku: Any, *, field: str = "sku") -> str:
    if not isinstance(sku, str) or not SKU.fullmatch(sku):
        raise InvalidInput(f"{field}: not a SKU: {sku!r}", slug="invalid_sku",
                           hint="1-64 characters of A-Z a-z 0-9 . _ -, starting with a letter "
                                "or digit")
    return sku


def _one_line(value: Any, *, field: str, limit: int, required: bool) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field}: expected text, got {type(value).__name__}",
                           slug="invalid_product")
    text = value.strip()
    if required and not text:
        raise InvalidInput(f"{field}: must not be empty", slug="invalid_product")
    if any(ch in text for ch in "\r\n\t"):
        raise InvalidInput(f"{field}: must be one line (no tabs or line breaks)",
                           slug="invalid_product")
    if len(text) > limit:
        raise InvalidInput(f"{field}: longer than {limit} characters", slug="invalid_product")
    return text


def check_title(title: Any, *, field: str = "title") -> str:
    return _one_line(title, field=field, limit=TITLE_MAX, required=True)


def check_description(text: Any, *, field: str = "description") -> str:
    return _one_line(text, field=field, limit=TEXT_MAX, required=False)


def check_image_url(url: Any, *, field: str = "image_url") -> str:
    """An http(s) URL without spaces, or empty for none."""
    text = _one_line(url, field=field, limit=TEXT_MAX, required=False)
    if text and not URL.fullmatch(text):
        raise InvalidInput(f"{field}: not an http(s) URL: {text!r}", slug="invalid_product")
    return text


def check_stock(stock: Any, *, field: str = "stock") -> int:
    """A whole number of units, 0 or more (booleans and floats are refused)."""
    if isinstance(stock, bool) or not isinstance(stock, int):
        raise InvalidInput(f"{field}: expected a whole number, got {stock!r}",
                           slug="invalid_stock")
    if stock < 0:
        raise InvalidInput(f"{field}: must not be negative", slug="invalid_stock")
    if stock > STOCK_MAX:
        raise InvalidInput(f"{field}: more than {STOCK_MAX:,}", slug="invalid_stock")
    return stock


# ------------------------------------------------------------------ database


def public(product: Product) -> dict[str, Any]:
    """The product JSON shape of SPEC section 3."""
    return {
        "sku": product.sku,
        "title": product.title,
        "list_price_fen": product.list_price_fen,
        "stock": product.stock,
        "image_url": product.image_url,
        "description": product.description,
    }


def get_product(session: Session, sku: str) -> Product | None:
    return session.get(Product, sku)


def require_product(session: Session, sku: str) -> Product:
    product = session.get(Product, sku)
    if product is None:
        raise NotFound(f"no product with SKU {sku!r}", slug="product_not_found",
                       hint="see `wxshop product list`")
    return product


def list_products(session: Session) -> list[Product]:
    return list(session.exec(select(Product).order_by(Product.sku)).all())


def products_by_sku(session: Session, skus: list[str]) -> dict[str, Product]:
    if not skus:
        return {}
    rows = session.exec(select(Product).where(Product.sku.in_(skus))).all()  # type: ignore[attr-defined]
    return {row.sku: row for row in rows}


def add_product(session: Session, *, sku: str, title: str, list_price_fen: int, stock: int,
                image_url: str = "", description: str = "", now: dt.datetime) -> Product:
    """Create a product (values already checked). A SKU that exists is a conflict (exit 5).

    An insert-or-ignore, so two processes adding the same SKU at once get one product and
    one clean conflict, not a database error."""
    values = {"sku": sku, "title": title, "list_price_fen": list_price_fen, "stock": stock,
              "image_url": image_url, "description": description, "created_at": now,
              "updated_at": now}
    if not insert_ignore(session, Product, values, ["sku"]):
        raise Conflict(f"a product with SKU {sku!r} already exists", slug="product_exists",
                       hint="SKUs are unique; a promotion file updates existing products")
    return session.get_one(Product, sku)
