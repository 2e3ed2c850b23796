"""What the sandbox accepts, for people trying wxshop out (issue 14, item 4): the test cards
with their behaviour, and identities that pass every check of a binding.

One source: the cards are `cardnumber.TEST_CARDS` (number -> behaviour) and
`TEST_CARD_BEHAVIOURS` (its words, as docs/test-cards.md shows them) with their bank, type
and limits from the BIN table;
the identities are built here with the same checksum the binding checks (`stdnum.cn.ric`)
and verified with `core.identity`. Test card numbers are public sandbox data (SPEC section
5); no real card, ID number or mobile is ever printed. No database.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

#: What a `wxshop buy` with a card of each behaviour ends in: (exit code, error slug). The
#: words are `cardnumber.TEST_CARD_BEHAVIOURS` (docs/test-cards.md is generated from them).
OUTCOMES: dict[str, tuple[int, str | None]] = {
    "approve": (0, None),
    "decline": (6, "payment_declined"),
    "insufficient_funds": (6, "payment_insufficient_funds"),
    "frozen": (6, "payment_card_frozen"),
    "timeout": (9, "payment_unknown"),
}

CREDIT_ASKS = "expiry (MM/YY, not past) and security code (any 3 digits)"


def test_cards() -> list[dict[str, Any]]:
    """Every sandbox test card: number, brand, bank, type, behaviour and limits."""
    from wxshop_cli.core import bins, cardnumber

    rows = []
    for number, behaviour in cardnumber.TEST_CARDS.items():
        row = bins.lookup(number)
        brand = cardnumber.brand_of(number) or ""
        exit_code, slug = OUTCOMES[behaviour]
        rows.append({
            "number": number,
            "brand": brand,
            "brand_name": cardnumber.BRAND_NAMES.get(brand, brand),
            "bank": row.bank,
            "bank_code": row.bank_code,
            "card_type": row.card_type,
            "display": f"{row.bank} {row.type_label} ({number[-4:]})",
            "behaviour": behaviour,
            "description": cardnumber.TEST_CARD_BEHAVIOURS[behaviour],
            "buy_exit_code": exit_code,
            "buy_error": slug,
            "asks": CREDIT_ASKS if row.card_type == bins.CREDIT else "",
            "single_limit_fen": row.single_limit_fen,
            "daily_limit_fen": row.daily_limit_fen,
        })
    return rows


# (holder, province code, birth date, sequence, mobile): varied enough to try several buyers
# (one identity per buyer: a buyer's cards must all be in the same name and ID number).
_PEOPLE = (
    ("张三", "310000", dt.date(1990, 1, 1), "123", "13800138000"),
    ("李四", "440000", dt.date(1985, 6, 15), "456", "13912345678"),
    ("王五", "110000", dt.date(1978, 11, 11), "789", "15000000000"),
    ("赵六", "510000", dt.date(2000, 2, 29), "012", "18600001111"),
)


def id_number(region_code: str, birth: dt.date, sequence: str) -> str:
    """An 18-character resident ID number with its ISO 7064 MOD 11-2 check character
    (county part `0101`: the binding checks only the province, as real numbers require)."""
    from stdnum.cn import ric

    body = f"{region_code[:2]}0101{birth:%Y%m%d}{sequence}"
    return body + ric.calc_check_digit(body + "?")  # it reads all but the last character


def test_identities() -> list[dict[str, Any]]:
    """Identities that pass a binding's checks: holder, ID number, mobile."""
    from wxshop_cli.core.regions import region_name

    return [{
        "holder": holder,
        "id_number": id_number(region, birth, sequence),
        "mobile": mobile,
        "region_code": region,
        "region": region_name(region),
        "birth_date": birth.isoformat(),
    } for holder, region, birth, sequence, mobile in _PEOPLE]
