"""Typed domain errors. Each carries its exit code and a stable slug (the JSON error's `code`).

Services raise these; the command layer never picks an exit code itself. Every exit code is
described in `EXIT_CODES` and every slug the code can raise in `SLUGS` (one line each:
slug → exit code(s), one-line meaning); docs/errors.md is generated from both
(`python -m wxshop_cli.docgen`) and tests/test_docs.py fails when a `slug="..."` of the
package is not in `SLUGS`. Extra keyword arguments become extra fields of the JSON error
object (`order_no`, `idempotency_key`, `location`, ...).
"""

from __future__ import annotations

from typing import Any

OK = 0
INTERNAL = 1
USAGE = 2
INVALID = 3
NOT_FOUND = 4
CONFLICT = 5
REFUSED = 6
SOLD_OUT = 7
DISCREPANCIES = 8
TRY_AGAIN = 9
INTERRUPTED = 130


class WxError(Exception):
    """Base of every error wxshop reports to the user."""

    exit_code: int = INTERNAL
    default_slug: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        slug: str | None = None,
        hint: str | None = None,
        details: list[str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.slug = slug or self.default_slug
        self.hint = hint
        # Several mistakes in one input (a promotion file): one line each before the summary.
        self.details = details or []
        self.extra = extra

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.slug,
            "message": self.message,
            "exit_code": self.exit_code,
        }
        if self.hint:
            body["hint"] = self.hint
        if self.details:
            body["details"] = list(self.details)
        body.update(self.extra)
        return {"error": body}

    def line(self) -> str:
        text = f"error: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class UsageError(WxError):
    """Missing or mistyped value, or a prompt needed where none may be shown."""

    exit_code = USAGE
    default_slug = "usage"


class InvalidInput(WxError):
    """A well-formed value that breaks a rule (bad card number, bad region, malformed file)."""

    exit_code = INVALID
    default_slug = "invalid_input"


class NotFound(WxError):
    exit_code = NOT_FOUND
    default_slug = "not_found"


class Conflict(WxError):
    """The current state does not allow it."""

    exit_code = CONFLICT
    default_slug = "conflict"


class PaymentRefused(WxError):
    exit_code = REFUSED
    default_slug = "payment_refused"


class SoldOut(WxError):
    """Sold out or the per-buyer limit would be exceeded."""

    exit_code = SOLD_OUT
    default_slug = "sold_out"


class TryAgain(WxError):
    """Busy database, unknown payment outcome, or the same request still running."""

    exit_code = TRY_AGAIN
    default_slug = "try_again"


class Interrupted(WxError):
    exit_code = INTERRUPTED
    default_slug = "interrupted"


def os_error(exc: OSError, what: str, *, read_only_slug: str = "permission_denied",
             default: type[WxError] | None = None, slug: str = "file_error") -> WxError:
    """A failed file operation as the fault it is (docs/errors.md): a full disk
    (`disk_full`, exit 9), a read-only or forbidden place (`read_only_slug`, exit 5), a name
    the system refuses (`invalid_path`, exit 2: too long, a symlink loop, not UTF-8), an
    I/O error (`io_error`, exit 9); else `default` (UsageError) with `slug`. `what` says
    what was being done ("cannot write bill out.csv")."""
    import errno

    code = exc.errno
    reason = exc.strerror or type(exc).__name__
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return TryAgain(f"{what}: no space left on the device", slug="disk_full",
                        hint="free some space and run the same command again; nothing "
                             "half-written was kept")
    if code in (errno.EROFS, errno.EACCES, errno.EPERM, errno.ETXTBSY):
        return Conflict(f"{what}: {reason}", slug=read_only_slug,
                        hint="make the file and its directory writable, or choose another "
                             "place")
    if code in (errno.ENAMETOOLONG, errno.ELOOP) or isinstance(exc, UnicodeError):
        return UsageError(f"{what}: {reason}", slug="invalid_path",
                          hint="give a shorter path of plain UTF-8 names, without symlink "
                               "loops")
    if code == errno.EIO:
        return TryAgain(f"{what}: input/output error", slug="io_error",
                        hint="check the disk, then try again")
    return (default or UsageError)(f"{what}: {reason}", slug=slug,
                                   hint="check the path and its permissions")


#: What each exit code means (docs/errors.md).
EXIT_CODES: dict[int, str] = {
    OK: "success (an empty list is success)",
    INTERNAL: "unexpected internal error (a bug: the fuzz test in tests/test_fuzz.py looks for "
              "inputs that give it)",
    USAGE: "usage error (unknown command or option, missing or mistyped value)",
    INVALID: "invalid input (a well-formed value that breaks a rule; a malformed file)",
    NOT_FOUND: "not found",
    CONFLICT: "conflict (the state does not allow it; wrong secret key; database newer than the "
              "code; another program's, a damaged or a read-only database)",
    REFUSED: "payment refused",
    SOLD_OUT: "sold out, or the per-buyer limit would be exceeded",
    DISCREPANCIES: "`reconcile` found open discrepancies; `audit` found violations of the "
                   "book's invariants (the findings are printed on stdout: not an error)",
    TRY_AGAIN: "try again later (database busy or unreachable; disk full; I/O error; payment "
               "outcome unknown; same request in progress)",
    10: "`buy --from`: the batch ran, but some lines did not pay (each result line has its own "
        "code)",
    INTERRUPTED: "interrupted (Ctrl-C), or a confirmation answered no (`not_confirmed`)",
}

#: Every slug wxshop can report: slug → (exit code, or the codes it comes with; what it
#: means, one line). Raising a new slug? Add its line here, then run
#: `python -m wxshop_cli.docgen` (tests/test_docs.py checks both).
SLUGS: dict[str, tuple[int | tuple[int, ...], str]] = {
    # 1: a bug, or a fault that is nobody's input
    "internal_error": (INTERNAL, "a bug; rerun with `WXSHOP_DEBUG=1`"),
    "database_error": (INTERNAL, "the database refused a statement for an unexpected reason"),
    "refund_refused": (INTERNAL, "the gateway refused a refund the book allowed (should not "
                                 "happen)"),
    "broken_pipe": (INTERNAL, "stdout was closed before wxshop finished writing (a pipe into "
                              "`head`)"),
    "secret_key_unreadable": (INTERNAL, "the secret key file exists but cannot be read"),
    # 2: usage
    "usage": (USAGE, "an unknown command or option, a missing argument or value, a bad choice "
                     "(the accepted ones named, `choices`), a non-number, a bad date or "
                     "`--now`: one line `error: … (hint)`, or the JSON error object with "
                     "`--json` anywhere; `reason` says which (`cli.USAGE_REASONS`), `param` "
                     "names the option (docs/decisions-cli.md)"),
    "missing_value": (USAGE, "a value is missing and no prompt may be shown"),
    "missing_mobile": (USAGE, "a mobile top-up was bought without --mobile (or a line's mobile)"),
    "invalid_argument": (USAGE, "an argument (any command, `--db`, `--buyer`) that is not "
                                "UTF-8 text, e.g. the bytes `caf\\xe9`"),
    "invalid_database_url": (USAGE, "`--db` is not a usable URL"),
    "invalid_database_path": (USAGE, "`--db` is not a usable path"),
    "database_not_a_file": (USAGE, "`--db` names a device, FIFO or socket (`/dev/null`, "
                                   "`/dev/zero`)"),
    "invalid_time_zone": (USAGE, "`WXSHOP_TZ` is not an IANA zone"),
    "invalid_scrypt_cost": (USAGE, "`WXSHOP_SCRYPT_N` is not a power of two from 2 to 4194304"),
    "invalid_busy_timeout": (USAGE, "`WXSHOP_BUSY_TIMEOUT` is not seconds from 0 to 3600"),
    "invalid_charge_delay": (USAGE, "`WXSHOP_SANDBOX_CHARGE_DELAY` is not seconds from 0 to "
                                    "3600"),
    "invalid_secret_key_file": (USAGE, "`WXSHOP_SECRET_KEY_FILE` names a directory"),
    "invalid_environment": (USAGE, "a wxshop variable (`WXSHOP_DB`, `WXSHOP_HOME`, "
                            "`WXSHOP_SECRET_KEY_FILE`, `WXSHOP_NOW`, …) that is not UTF-8 text"),
    "invalid_home": (USAGE, "`WXSHOP_HOME` is not a directory, or cannot be used (a symlink "
                            "loop)"),
    "invalid_path": (USAGE, "a path the system refuses: a name too long (a 300-character file "
                            "name), a symlink loop"),
    "file_error": (USAGE, "(last net) another failed file operation, e.g. a file that "
                          "vanished meanwhile"),
    "invalid_time": (USAGE, "`promo create --starts/--ends` is not an ISO 8601 time"),
    "invalid_page_size": (USAGE, "a list's `--limit` below 1 or above 1000"),
    "invalid_cursor": (USAGE, "a list's `--after` that is not a cursor wxshop printed, or the "
                              "cursor of another list"),
    "invalid_file": (USAGE, "`buy --from`, `promo publish` or `fixtures load` of a file that "
                            "cannot be read: a directory, a device or FIFO (`/dev/zero`), or a "
                            "file over 4 MiB"),
    "bill_unreadable": (USAGE, "the bill file cannot be opened or read (missing, a directory, "
                               "no permission)"),
    "bill_date_required": (USAGE, "a bill without rows and no `--date`"),
    "json_with_stdout": (USAGE, "`bill export --json` without `-o FILE` (the bill itself is on "
                                "stdout)"),
    "gzip_to_terminal": (USAGE, "`bill export --gzip` (or `--format alipay`: a zip) with "
                                "stdout on a terminal"),
    "bill_unwritable": ((USAGE, CONFLICT), "`bill export -o` into a missing directory or onto a "
                                           "directory (2), or into a read-only place (5)"),
    # 3: invalid input
    "invalid_input": (INVALID, "a value that breaks a rule, without a more specific slug (a "
                               "fixture's `order.place` `qty` that is not a whole number)"),
    "invalid_amount": (INVALID, "not yuan with at most two decimals, negative, zero, or over "
                                "¥99,999,999.99 (a 5,000-digit amount too: length is checked "
                                "before conversion)"),
    "invalid_rate": (INVALID, "a fee rate that is not a percentage from 0 to 100"),
    "invalid_buyer": (INVALID, "a buyer name that is not 1–32 of `[A-Za-z0-9_-]`"),
    "invalid_app_id": (INVALID, "a merchant app id of the wrong form (`wx` + 16 hex)"),
    "invalid_mch_id": (INVALID, "a merchant number of the wrong form (10 digits)"),
    "invalid_region": (INVALID, "not one of the 34 GB/T 2260 codes"),
    "invalid_fixture": (INVALID, "a fixture file that is not JSON or not a list of steps, or "
                                 "nested more than 32 levels deep (`location`)"),
    "fixture_step_failed": (INVALID, "a fixture step failed (the error names the step)"),
    "invalid_card_number": (INVALID, "not ASCII digits (spaces and dashes are fine), a length "
                                     "its brand does not use, or a failed Luhn check"),
    "brand_not_supported": (INVALID, "not UnionPay, Visa, Mastercard, American Express or JCB "
                                     "(Discover is refused)"),
    "bank_not_supported": (INVALID, "no row of the shipped BIN table matches the number's "
                                    "length and prefix"),
    "card_number_on_command_line": (INVALID, "a literal `--number` (or a fixture's `number`) "
                                             "that is not a sandbox test card"),
    "security_code_on_command_line": (INVALID, "a literal `--cvn` for a card that is not a test "
                                               "card, debit or credit"),
    "invalid_holder": (INVALID, "holder name empty, over 64 characters, or with "
                                "control/invisible characters"),
    "invalid_id_number": (INVALID, "resident ID number: form, region, checksum, impossible, "
                                   "future or pre-1900 birth date"),
    "invalid_mobile": (INVALID, "not a valid Chinese mobile number"),
    "mobile_not_for_goods": (INVALID, "--mobile was given for goods, which ship to an address"),
    "address_not_for_topup": (INVALID, "--address or --region was given for a mobile top-up"),
    "invalid_expiry": (INVALID, "card expiry not `MM/YY`, or past (a debit card's is checked "
                                "when given)"),
    "invalid_security_code": (INVALID, "security code not 3 digits (a debit card's is checked "
                                       "when given)"),
    "identity_mismatch": (INVALID, "\"identity differs from the buyer's\": holder name or ID "
                                   "number differs from the buyer's first card"),
    "invalid_sms_code": (INVALID, "the SMS code is not 6 digits (no try is used)"),
    "wrong_sms_code": (INVALID, "wrong SMS code (`tries_left`); the fifth wrong code cancels "
                                "the binding"),
    "sms_code_expired": (INVALID, "the code is 5 minutes old or more; start again"),
    "sms_code_not_yet_valid": (INVALID, "confirmed at a time (`--now`) before the code was "
                                        "sent; no try is used"),
    "invalid_password": (INVALID, "a payment password that is not exactly 6 ASCII digits"),
    "weak_password": (INVALID, "a new payment password of six equal digits or a run up or down "
                               "(123456, 654321)"),
    "password_mismatch": (INVALID, "on a terminal, the new password was typed differently "
                                   "twice, three times"),
    "invalid_address": (INVALID, "city, street or contact empty, too long, or with "
                                 "control/invisible characters"),
    "invalid_item": (INVALID, "a `buy` item of the wrong form"),
    "invalid_qty": (INVALID, "a `buy` quantity that is not 1–999"),
    "invalid_idempotency_key": (INVALID, "a `buy` idempotency key of the wrong form"),
    "ambiguous_item": (INVALID, "a SKU in several live promotions (`item_ids` lists them)"),
    "address_region_mismatch": (INVALID, "`--address` is not in `--region`"),
    "invalid_refund_no": (INVALID, "a refund number that is not 1–32 of `[0-9A-Za-z_-]`"),
    "invalid_card_id": (INVALID, "`--card` (or a line's `card`) is not a card id `card_…`; "
                                 "the value is not echoed"),
    "invalid_batch_line": ((INVALID, USAGE), "a `buy --from` line that is not a JSON object of "
                                             "the known fields (2 for a mistyped value)"),
    "invalid_sku": (INVALID, "a SKU that is not 1–64 of `[A-Za-z0-9._-]` starting with a "
                             "letter or digit"),
    "invalid_product": (INVALID, "product (or promotion) title empty, over 200 characters, not "
                                 "one line or with control/invisible characters; description "
                                 "over 500, not one line or with such characters; image URL "
                                 "not `http(s)://`"),
    "invalid_stock": (INVALID, "stock not a whole number from 0 to 100,000,000, or not written "
                               "in plain ASCII digits (` 5`, `１０`, `1_000`), or over 40 "
                               "characters (checked before conversion)"),
    "invalid_promo_code": (INVALID, "a promotion code that is not 1–64 of `[A-Za-z0-9_-]` "
                                    "starting with a letter or digit"),
    "invalid_window": (INVALID, "a promotion that ends at or before its start"),
    "invalid_percent": (INVALID, "percent off not above 0 and below 100, more than two "
                                 "decimals, or with spaces around it"),
    "invalid_price": (INVALID, "a promo price below ¥0.01 or above the list price"),
    "invalid_limit": (INVALID, "a per-buyer limit below 1 (leave it out for no limit), or not "
                               "in plain ASCII digits"),
    "invalid_promo_file": (INVALID, "a promotion file nested more than 32 levels deep "
                                    "(`location` `line L, column C`), with a number of "
                                    "thousands of digits, or with mistakes: each on its own "
                                    "line before the summary (`details`; `mistakes` as "
                                    "`{location, message}`; `location` of the first); nothing "
                                    "written"),
    "invalid_bill": (INVALID, "not a bill wxshop reads: empty, another CSV, an Alipay "
                              "account statement, not UTF-8 (WeChat Pay) or not GBK (Alipay), "
                              "truncated (no summary or footer), corrupt gzip or zip, a zip "
                              "without one 业务明细 CSV or past the zip-bomb bounds, a bad "
                              "summary line"),
    "bill_missing_columns": (INVALID, "the header or the summary header lacks required columns "
                                      "(they are named)"),
    "invalid_bill_row": (INVALID, "a malformed detail line, or a field with a control or "
                                  "invisible character (its line and column are named)"),
    "bill_does_not_add_up": (INVALID, "the summary differs from the sums of the rows (every "
                                      "difference in `details`)"),
    "bill_wrong_merchant": (INVALID, "a row's 商户号 (and 特约商户号/子商户号) is not this "
                                     "shop's merchant number"),
    "bill_spans_days": (INVALID, "the bill's times span several days and no `--date` picks "
                                 "one"),
    "invalid_audit_limit": (INVALID, "`audit --limit` below 0, above 1,000,000, or not in plain "
                                     "ASCII digits (not a number at all: `usage`, 2)"),
    "invalid_note": (INVALID, "`reconciliations resolve --note` empty, over 500 characters, or "
                              "with invisible characters"),
    "invalid_reason": (INVALID, "`orders refund --reason` over 200 characters or with "
                                "invisible characters"),
    "input_too_large": (INVALID, "(last net) input too deeply nested or too large for memory"),
    # 4: not found
    "fixture_not_found": (NOT_FOUND, "no such fixture file or shipped fixture"),
    "binding_not_found": (NOT_FOUND, "no such binding for the acting buyer"),
    "no_card": (NOT_FOUND, "`core.cards.payment_card`: the buyer has no default bound card"),
    "buyer_not_found": (NOT_FOUND, "no buyer of that name (a fixture step or the demo reading "
                                   "a buyer's inbox)"),
    "item_not_found": (NOT_FOUND, "nothing to buy: no such promo item or SKU"),
    "address_not_found": (NOT_FOUND, "no address to ship to"),
    "card_not_found": (NOT_FOUND, "no card to pay with"),
    "order_not_found": (NOT_FOUND, "no such order (or not the acting buyer's, for cancel)"),
    "promo_not_found": (NOT_FOUND, "no such promotion"),
    "file_not_found": (NOT_FOUND, "`buy --from` names no file"),
    "product_not_found": (NOT_FOUND, "no product with that SKU"),
    "database_not_found": (NOT_FOUND, "`audit` of a SQLite path with no database (an audit "
                                      "never creates one)"),
    "run_not_found": (NOT_FOUND, "no such reconciliation run"),
    "discrepancy_not_found": (NOT_FOUND, "no such item in that run"),
    # 5: conflict
    "wrong_secret_key": (CONFLICT, "the secret key is not the one this database was created "
                                   "with"),
    "database_newer": (CONFLICT, "the database schema is newer than this wxshop"),
    "foreign_database": (CONFLICT, "`--db` is another program's non-empty SQLite file or "
                                   "PostgreSQL schema (no wxshop tables); left byte-for-byte "
                                   "unchanged"),
    "database_corrupt": (CONFLICT, "the SQLite file is damaged: truncated, or an SQLite header "
                                   "followed by garbage (a file that is not SQLite at all is "
                                   "`invalid_database_path`); wxshop does not change it"),
    "database_read_only": (CONFLICT, "the database file or its directory cannot be written "
                                     "(read-only or immutable file, read-only directory, "
                                     "`mode=ro`, a read-only PostgreSQL transaction); nothing "
                                     "was saved"),
    "permission_denied": (CONFLICT, "another file wxshop had to write or read was refused by "
                                    "the system"),
    "demo_not_empty": (CONFLICT, "`demo --db` on a database with data, without `--force`"),
    "rehearsal_not_empty": (CONFLICT, "`rehearse --db` on a database with data, without "
                                      "`--force`"),
    "card_already_bound": (CONFLICT, "the buyer already has this card bound (`card_id`); "
                                     "unbind it to bind it again"),
    "card_bound_elsewhere": (CONFLICT, "a buyer with another identity has this card bound "
                                       "(test cards excepted)"),
    "binding_already_confirmed": (CONFLICT, "the binding is finished (`card_id`)"),
    "binding_cancelled": (CONFLICT, "the binding was cancelled (5 wrong codes, or the same "
                                    "card started again)"),
    "card_unbound": (CONFLICT, "`cards unbind`/`default` (or paying) with an unbound card"),
    "pay_password_not_set": (CONFLICT, "the buyer has no payment password yet: bind a card "
                                       "first"),
    "promo_not_live": (CONFLICT, "the promo item's promotion is not live now"),
    "region_not_served": (CONFLICT, "the promotion does not serve the address's region"),
    "idempotency_key_reused": (CONFLICT, "the key was used for another request"),
    "order_closed": (CONFLICT, "a buy's order was closed for another reason than the bank's "
                               "refusal (cancelled, expired); buy again with a new key"),
    "order_not_cancellable": (CONFLICT, "the order's state does not allow a cancel"),
    "order_not_refundable": (CONFLICT, "the order's state does not allow a refund"),
    "refund_exceeds_paid": (CONFLICT, "a refund over what is left of the payment"),
    "too_many_refunds": (CONFLICT, "an order has 50 refunds already"),
    "refund_window_passed": (CONFLICT, "a refund more than 365 days after the payment"),
    "refund_no_reused": (CONFLICT, "the refund number was used for another refund"),
    "refund_before_payment": (CONFLICT, "a refund dated (`--now`) before the payment"),
    "product_exists": (CONFLICT, "the SKU is taken"),
    "promo_exists": (CONFLICT, "the promotion code is taken (`promo publish FILE` updates "
                               "instead)"),
    "promo_archived": (CONFLICT, "an archived promotion cannot be published, unpublished or "
                                 "changed"),
    "promo_empty": (CONFLICT, "`promo publish CODE` of a promotion without items"),
    "promo_has_sales": (CONFLICT, "`promo unpublish` after the first sale"),
    "stock_below_sold": (CONFLICT, "an item's stock below the units already sold"),
    "price_change_needs_force": (CONFLICT, "a price change after the promotion started, without "
                                           "`--force`"),
    "item_has_sales": (CONFLICT, "an item missing from a promotion file has sales, so it cannot "
                                 "be removed"),
    "list_price_below_promo": (CONFLICT, "a new list price below a promo price of that SKU in "
                                         "another promotion"),
    "discrepancy_resolved": (CONFLICT, "the item was already resolved with another note"),
    # 6: payment refused
    "wrong_password": (REFUSED, "wrong payment password (`tries_left`)"),
    "password_locked": (REFUSED, "5 wrong payment passwords lock payments for 3 hours "
                                 "(`locked_until`, in `WXSHOP_TZ`)"),
    "payment_declined": (REFUSED, "the bank declined the payment (test card)"),
    "payment_insufficient_funds": (REFUSED, "insufficient funds on the card (test card)"),
    "payment_card_frozen": (REFUSED, "the card is frozen, reported lost (test card)"),
    "payment_single_limit": (REFUSED, "over the card's single-payment limit"),
    "payment_daily_limit": (REFUSED, "over the card's daily limit"),
    "payment_unknown_card": (REFUSED, "the card is unknown to the bank"),
    # 7: sold out
    "sold_out": (SOLD_OUT, "no stock left"),
    "limit_exceeded": (SOLD_OUT, "the per-buyer limit would be exceeded"),
    # 9: try again
    "payment_unknown": (TRY_AGAIN, "the bank timed out; retry the same key or `orders show`"),
    "request_in_progress": (TRY_AGAIN, "the same idempotency key is still being processed"),
    "disk_full": (TRY_AGAIN, "no space left: the database's disk (SQLite `SQLITE_FULL`, "
                             "PostgreSQL 53100) or `bill export -o`'s (nothing half-written is "
                             "kept); free space and run the same command again — a `buy` with "
                             "the same `--idempotency-key` completes once"),
    "database_io_error": (TRY_AGAIN, "the disk of the database reported an I/O error"),
    "io_error": (TRY_AGAIN, "the disk reported an I/O error (another file)"),
    "database_busy": (TRY_AGAIN, "SQLite's lock or PostgreSQL's locks stayed taken past the "
                                 "timeout"),
    "database_unreachable": (TRY_AGAIN, "the database server cannot be reached"),
    # 130
    "interrupted": (INTERRUPTED, "Ctrl-C; after a claimed buy it carries `order_no` and "
                                 "`idempotency_key`"),
    "not_confirmed": (INTERRUPTED, "`promo archive`, `cards unbind` or `orders refund` on a "
                                   "terminal, answered no (or Ctrl-D): nothing changed; "
                                   "`--yes` skips the question"),
}
