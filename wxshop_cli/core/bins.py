"""The BIN table (`fixtures/bins.csv`): which bank issued a card, its type and its limits.

A number matches the rows whose `length` equals its length; of those, the one with the
longest `prefix` wins (SPEC section 5). No matching row: "bank not supported" (exit 3).
The table is read once, on first use.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from wxshop_cli.errors import InvalidInput

DEBIT = "debit"
CREDIT = "credit"

#: How the card type reads in a display such as `招商银行 储蓄卡 (1234)`.
CARD_TYPE_LABELS = {DEBIT: "储蓄卡", CREDIT: "信用卡"}

_COLUMNS = ("prefix", "length", "bank", "bank_code", "card_type",
            "single_limit_fen", "daily_limit_fen")


@dataclass(frozen=True, slots=True)
class BinRow:
    prefix: str
    length: int
    bank: str  # in Chinese, e.g. 中国工商银行
    bank_code: str  # as WeChat Pay bills print it, e.g. ICBC_DEBIT
    card_type: str  # "debit" or "credit"
    single_limit_fen: int
    daily_limit_fen: int

    @property
    def type_label(self) -> str:
        return CARD_TYPE_LABELS[self.card_type]


def bins_path() -> Path:
    from wxshop_cli.resources import fixtures_dir

    return fixtures_dir() / "bins.csv"


def _parse_row(line_no: int, raw: dict[str, str]) -> BinRow:
    where = f"bins.csv line {line_no}"
    try:
        row = BinRow(
            prefix=raw["prefix"].strip(),
            length=int(raw["length"]),
            bank=raw["bank"].strip(),
            bank_code=raw["bank_code"].strip(),
            card_type=raw["card_type"].strip(),
            single_limit_fen=int(raw["single_limit_fen"]),
            daily_limit_fen=int(raw["daily_limit_fen"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{where}: malformed row ({exc})") from exc
    if not (row.prefix.isascii() and row.prefix.isdigit()):
        raise ValueError(f"{where}: prefix must be ASCII digits")
    if not 13 <= row.length <= 19 or len(row.prefix) >= row.length:
        raise ValueError(f"{where}: bad length")
    if row.card_type not in CARD_TYPE_LABELS:
        raise ValueError(f"{where}: card_type must be debit or credit")
    if not row.bank or not row.bank_code:
        raise ValueError(f"{where}: bank and bank_code are required")
    if not 0 < row.single_limit_fen <= row.daily_limit_fen:
        raise ValueError(f"{where}: limits must be positive, single <= daily")
    return row


@cache
def all_rows() -> tuple[BinRow, ...]:
    """Every row of the shipped table, in file order. Raises ValueError on a malformed file
    (a packaging bug, so it surfaces as an internal error, not as invalid input)."""
    rows: list[BinRow] = []
    seen: set[tuple[str, int]] = set()
    with open(bins_path(), encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != _COLUMNS:
            raise ValueError(f"bins.csv: expected columns {','.join(_COLUMNS)}")
        for line_no, raw in enumerate(reader, start=2):
            row = _parse_row(line_no, raw)
            key = (row.prefix, row.length)
            if key in seen:
                raise ValueError(f"bins.csv line {line_no}: duplicate prefix and length")
            seen.add(key)
            rows.append(row)
    return tuple(rows)


@cache
def _by_length() -> dict[int, tuple[BinRow, ...]]:
    """Rows grouped by length, longest prefix first."""
    grouped: dict[int, list[BinRow]] = {}
    for row in all_rows():
        grouped.setdefault(row.length, []).append(row)
    return {length: tuple(sorted(rows, key=lambda r: len(r.prefix), reverse=True))
            for length, rows in grouped.items()}


def lookup(digits: str) -> BinRow:
    """The BIN row for a normalized card number (see `cardnumber.check_card_number`).

    Raises InvalidInput (slug `bank_not_supported`) when no row matches.
    """
    for row in _by_length().get(len(digits), ()):
        if digits.startswith(row.prefix):
            return row
    raise InvalidInput("bank not supported", slug="bank_not_supported",
                       hint="only cards of the banks in the shipped BIN table can be bound")
