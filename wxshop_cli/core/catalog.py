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

from wxshop_cli.core.paging import DEFAULT_LIMIT, Key, Ordering, Page, read_page
from wxshop_cli.core.text import describe, invisible_char
from wxshop_cli.db.models import Product
from wxshop_cli.db.sql import insert_ignore
from wxshop_cli.errors import Conflict, InvalidInput, NotFound, UsageError

SKU = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)
URL = re.compile(r"https?://[^\s]+", re.ASCII)
_COUNT = re.compile(r"-?[0-9]+", re.ASCII)
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
    """Surrounding whitespace stripped; one line of visible text (core/text.py), `limit`
    characters at most."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field}: expected text, got {type(value).__name__}",
                           slug="invalid_product", hint="write it as a string in quotes")
    text = value.strip()
    if required and not text:
        raise InvalidInput(f"{field}: must not be empty", slug="invalid_product",
                           hint="give the text buyers see, e.g. Apple iPhone 5s 16G")
    if any(ch in text for ch in "\r\n\t"):
        raise InvalidInput(f"{field}: must be one line (no tabs or line breaks)",
                           slug="invalid_product", hint="join the lines with spaces")
    bad = invisible_char(text)
    if bad is not None:
        raise InvalidInput(f"{field}: contains a control or invisible character "
                           f"({describe(bad)})", slug="invalid_product",
                           hint="retype it; text copied from a web page or chat can bring "
                                "hidden characters")
    if len(text) > limit:
        raise InvalidInput(f"{field}: longer than {limit} characters", slug="invalid_product",
                           hint=f"shorten it to {limit} characters or fewer")
    return text


def check_title(title: Any, *, field: str = "title") -> str:
    return _one_line(title, field=field, limit=TITLE_MAX, required=True)


def check_description(text: Any, *, field: str = "description") -> str:
    return _one_line(text, field=field, limit=TEXT_MAX, required=False)


def check_image_url(url: Any, *, field: str = "image_url") -> str:
    """An http(s) URL without spaces, or empty for none."""
    text = _one_line(url, field=field, limit=TEXT_MAX, required=False)
    if text and not URL.fullmatch(text):
        raise InvalidInput(f"{field}: not an http(s) URL: {text!r}", slug="invalid_product",
                           hint="e.g. https://img.example/yx-1001.jpg (ASCII, no spaces; "
                                "percent-encode other characters)")
    return text


def parse_count(text: str, *, option: str, slug: str = "invalid_stock") -> int:
    """A count option as typed (`--stock`, `--per-buyer-limit`): ASCII digits, a leading
    minus left to the range check. Not a whole number at all (`abc`, `1.5`) is a usage error
    (2), as Typer's own int was; a whole number written another way, which Python's int()
    would take (` 5`, `1_000`, full-width `１０`), breaks the rule: invalid input (3, `slug`)."""
    if len(text) > 40:  # length first: int() of thousands of digits is refused
        raise InvalidInput(f"{option}: a number of {len(text):,} characters is too long",
                           slug=slug, hint=f"a whole number from 0 to {STOCK_MAX:,}")
    if _COUNT.fullmatch(text):
        return int(text)
    try:
        int(text)
    except ValueError:
        raise UsageError(f"{option}: not a whole number: {text!r}", slug="usage",
                         hint="a whole number in ASCII digits, e.g. 100") from None
    raise InvalidInput(f"{option}: {text!r} is not written in plain ASCII digits",
                       slug=slug, hint="digits 0-9 only, without spaces, signs or "
                                       "separators, e.g. 100")


def check_stock(stock: Any, *, field: str = "stock") -> int:
    """A whole number of units, 0 or more (booleans and floats are refused)."""
    hint = f"a whole number of units from 0 to {STOCK_MAX:,}"
    if isinstance(stock, bool) or not isinstance(stock, int):
        raise InvalidInput(f"{field}: expected a whole number, got {stock!r}",
                           slug="invalid_stock", hint=hint)
    if stock < 0:
        raise InvalidInput(f"{field}: must not be negative", slug="invalid_stock", hint=hint)
    if stock > STOCK_MAX:
        raise InvalidInput(f"{field}: more than {STOCK_MAX:,}", slug="invalid_stock", hint=hint)
    return stock


#: Product kinds: goods ship to a saved address; a top-up (话费充值) is mobile credit sent to
#: a mobile number given at purchase (`buy --mobile`), with no address or region step.
KINDS = ("goods", "topup")


def check_kind(kind: Any, *, field: str = "kind") -> str:
    if kind not in KINDS:
        raise InvalidInput(f"{field}: not a product kind: {kind!r}", slug="invalid_product",
                           hint="goods (shipped to an address) or topup (mobile credit)")
    return kind


# ------------------------------------------------------------------ database


def product_public(product: Product) -> dict[str, Any]:
    """The product JSON shape of SPEC section 3. An absent image URL or description is
    null (stored as empty text)."""
    return {
        "sku": product.sku,
        "title": product.title,
        "list_price_fen": product.list_price_fen,
        "stock": product.stock,
        "image_url": product.image_url or None,
        "description": product.description or None,
        "kind": product.kind,
    }


def get_product(session: Session, sku: str) -> Product | None:
    return session.get(Product, sku)


def require_product(session: Session, sku: str) -> Product:
    product = session.get(Product, sku)
    if product is None:
        raise NotFound(f"no product with SKU {sku!r}", slug="product_not_found",
                       hint="see `wxshop product list`")
    return product


#: `product list`: by SKU (the primary key).
PRODUCTS = Ordering("products", (Key(Product.sku, "str"),))


def list_products(session: Session, *, limit: int = DEFAULT_LIMIT,
                  after: str | None = None) -> Page:
    """A page of products by SKU, after the cursor `after`."""
    return read_page(session, select(Product), PRODUCTS, limit=limit, after=after)


def products_by_sku(session: Session, skus: list[str]) -> dict[str, Product]:
    if not skus:
        return {}
    rows = session.exec(select(Product).where(Product.sku.in_(skus))).all()  # type: ignore[attr-defined]
    return {row.sku: row for row in rows}


def add_product(session: Session, *, sku: str, title: str, list_price_fen: int, stock: int,
                image_url: str = "", description: str = "", kind: str = "goods",
                now: dt.datetime) -> Product:
    """Create a product (values already checked). A SKU that exists is a conflict (exit 5).

    An insert-or-ignore, so two processes adding the same SKU at once get one product and
    one clean conflict, not a database error."""
    values = {"sku": sku, "title": title, "list_price_fen": list_price_fen, "stock": stock,
              "image_url": image_url, "description": description, "kind": kind,
              "created_at": now,
              "updated_at": now}
    if not insert_ignore(session, Product, values, ["sku"]):
        raise Conflict(f"a product with SKU {sku!r} already exists", slug="product_exists",
                       hint="SKUs are unique; a promotion file updates existing products")
    return session.get_one(Product, sku)
