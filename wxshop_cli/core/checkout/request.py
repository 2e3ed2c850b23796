"""What a buyer asks for (`BuyRequest`) and its form checks, before any state is read."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass

from wxshop_cli.core.cards import check_card_id
from wxshop_cli.errors import InvalidInput

MAX_QTY = 999
_KEY_FORM = re.compile(r"[A-Za-z0-9_.:-]{1,128}", re.ASCII)
_ITEM_FORM = re.compile(r"[A-Za-z0-9_.-]{1,64}", re.ASCII)


@dataclass(frozen=True)
class BuyRequest:
    """What the buyer asked for, as given (the idempotency fingerprint uses exactly this)."""

    item: str
    qty: int = 1
    region: str | None = None
    address: str | None = None
    card: str | None = None
    mobile: str | None = None  # a top-up's number, as `check_mobile` returns it (11 digits)

    def fingerprint(self) -> str:
        fields = {"item": self.item, "qty": self.qty, "region": self.region,
                  "address": self.address, "card": self.card}
        if self.mobile is not None:  # absent otherwise: goods keys keep their fingerprints
            fields["mobile"] = self.mobile
        canonical = json.dumps(fields, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()


def check_request(request: BuyRequest, idempotency_key: str | None) -> None:
    """Form checks, before any state is read (invalid input is reported before conflicts)."""
    if not _ITEM_FORM.fullmatch(request.item):
        raise InvalidInput(f"not an item id or SKU: {request.item!r}", slug="invalid_item",
                           hint="an item id (item_…) or a SKU from `wxshop promo list`")
    if not 1 <= request.qty <= MAX_QTY:
        raise InvalidInput(f"quantity must be 1-{MAX_QTY}, got {request.qty}", slug="invalid_qty",
                           hint=f"--qty takes 1 to {MAX_QTY}")
    if request.region is not None:
        from wxshop_cli.core.regions import check_region

        check_region(request.region)
    if request.card is not None:
        check_card_id(request.card)
    if request.mobile is not None:
        from wxshop_cli.core.identity import check_mobile

        if check_mobile(request.mobile) != request.mobile:
            raise InvalidInput("mobile number: give its 11 digits", slug="invalid_mobile",
                               hint="an 11-digit Chinese mobile number, e.g. 13800138000")
    if idempotency_key is not None and not _KEY_FORM.fullmatch(idempotency_key):
        raise InvalidInput("idempotency key: 1-128 characters of A-Z a-z 0-9 _ . : -",
                           slug="invalid_idempotency_key",
                           hint="e.g. a job id plus a counter: ci-4711-1")


def new_idempotency_key() -> str:
    return f"idem_{secrets.token_hex(12)}"
