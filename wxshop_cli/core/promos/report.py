"""The report of a merchant change (what was created, changed, left unchanged, removed, and
how many buyers the push reached), and the problems that stop a change: mistakes (exit 3)
and conflicts with the stored state (exit 5), each collected so all are reported at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wxshop_cli import money
from wxshop_cli.errors import Conflict, InvalidInput


def mistakes_error(source: str, mistakes: list[str]) -> InvalidInput:
    """Every mistake of a promotion file (or of the catalog it needs) in one InvalidInput
    (exit 3, `invalid_promo_file`): one line each in `details`, split in `mistakes`."""
    count = len(mistakes)
    first = mistakes[0].split(":", 1)[0] if mistakes else None
    return InvalidInput(
        f"{source}: {count} mistake{'s' if count != 1 else ''} in the promotion file; "
        "nothing was written",
        slug="invalid_promo_file", details=mistakes, location=first,
        mistakes=[_split(m) for m in mistakes],
        hint="correct each key path listed, then publish the file again")


def _split(mistake: str) -> dict[str, str]:
    where, _, what = mistake.partition(": ")
    return {"location": where, "message": what}


@dataclass
class Report:
    """What a merchant command did: created / changed (field, old → new) / unchanged /
    removed, plus how many buyers the push reached. JSON keeps money in fen."""

    code: str
    created: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    unchanged: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    notified: int = 0
    status: str = ""
    dry_run: bool = False
    #: The promotion's worst case (core.promos.exposure), on a publish; None otherwise.
    exposure: dict[str, Any] | None = None

    @property
    def any_change(self) -> bool:
        return bool(self.created or self.changed or self.removed)

    def diff(self, kind: str, key: str, fields: dict[str, tuple[Any, Any]], *,
             item_id: str | None = None) -> bool:
        """Record the fields whose values differ (or `unchanged`); True if any did."""
        entry: dict[str, Any] = {"kind": kind, "key": key}
        if item_id is not None:
            entry["id"] = item_id
        differing = [(name, old, new) for name, (old, new) in fields.items() if old != new]
        if not differing:
            self.unchanged.append(entry)
            return False
        for name, old, new in differing:
            self.changed.append({**entry, "field": name, "old": old, "new": new})
        return True

    def to_json(self) -> dict[str, Any]:
        # A dry run rolls back the items it would create: their ids were never kept, and the
        # real publish makes new ones, so they are null rather than a promise nobody keeps.
        created = ([{**entry, "id": None} if "id" in entry else entry for entry in self.created]
                   if self.dry_run else self.created)
        data = {
            "code": self.code,
            "status": self.status,
            "dry_run": self.dry_run,
            "any_change": self.any_change,
            "created": created,
            "changed": self.changed,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "notified": self.notified,
        }
        if self.exposure is not None:
            data["exposure"] = self.exposure
        return data

    def rows(self) -> list[dict[str, Any]]:
        """One row per fact, for a table or TSV: action, kind, key, field, old, new."""
        out: list[dict[str, Any]] = []
        data = self.to_json()
        for action in ("created", "changed", "removed", "unchanged"):
            for entry in data[action]:
                name = entry.get("field", "")
                out.append({"action": action, "kind": entry["kind"], "key": entry["key"],
                            "id": entry.get("id"), "field": name,
                            "old": _shown(name, entry.get("old")),
                            "new": _shown(name, entry.get("new"))})
        return out + self.exposure_rows()

    def exposure_rows(self) -> list[dict[str, Any]]:
        """The worst case as rows of the same table (action ``exposure``): per item its
        worst case (old: stock × discount), the units one buyer can take and the promotions
        it overlaps; then the promotion's total."""
        if self.exposure is None:
            return []
        out: list[dict[str, Any]] = []

        def row(kind: str, key: str, name: str, old: str, new: str) -> None:
            out.append({"action": "exposure", "kind": kind, "key": key, "id": None,
                        "field": name, "old": old, "new": new})

        for item in self.exposure["items"]:
            sku = item["sku"]
            row("item", sku, "exposure_fen",
                f"{item['stock']} × {money.yuan(item['discount_fen'])}",
                money.yuan(item["exposure_fen"]))
            row("item", sku, "per_buyer_units",
                "limit" if item["per_buyer_limit"] is not None else "no limit",
                str(item["per_buyer_units"]))
            if item["overlaps"]:
                row("item", sku, "overlaps", "",
                    ",".join(f"{o['code']} ({o['status']})" for o in item["overlaps"]))
        row("promo", self.code, "exposure_fen", "", money.yuan(self.exposure["total_fen"]))
        return out


def _shown(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name.endswith("_fen") and isinstance(value, int):
        return money.yuan(value)
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "nationwide"
    return str(value)


#: What to do next about each conflict a promotion change can run into.
CONFLICT_HINTS = {
    "stock_below_sold": "set the stock to at least the units sold (exactly that ends the "
                        "item's sales)",
    "price_change_needs_force": "add --force to change prices of a promotion that started",
    "item_has_sales": "keep the item in the file; set its stock to the units sold to stop "
                      "selling it",
    "list_price_below_promo": "lower that promotion's price first, or keep the list price",
}


class Problems:
    """Mistakes (exit 3) and conflicts (exit 5) collected so that all are reported at once;
    invalid input is always reported before any conflict."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.invalid: list[tuple[str, str]] = []
        self.conflicts: list[tuple[str, str]] = []

    def raise_invalid(self) -> None:
        if not self.invalid:
            return
        if len(self.invalid) == 1 and not self.source:
            slug, message = self.invalid[0]
            raise InvalidInput(message, slug=slug, hint="correct the value and run it again")
        raise mistakes_error(self.source, [message for _, message in self.invalid])

    def raise_conflicts(self) -> None:
        if not self.conflicts:
            return
        slug, message = self.conflicts[0]
        if len(self.conflicts) == 1:
            raise Conflict(message, slug=slug, hint=CONFLICT_HINTS.get(slug),
                           location=message.split(":", 1)[0])
        slugs = {slug for slug, _ in self.conflicts}
        hint = (CONFLICT_HINTS.get(slug) if len(slugs) == 1
                else "resolve each change listed above, then publish again")
        raise Conflict(f"{self.source or 'promotion'}: {len(self.conflicts)} changes are not "
                       "allowed in the current state; nothing was written", slug=slug,
                       hint=hint, details=[m for _, m in self.conflicts],
                       location=message.split(":", 1)[0])

