"""Typed domain errors. Each carries its exit code and a stable slug (SPEC section 3).

Services raise these; the command layer never picks an exit code itself. The README lists
every slug. Extra keyword arguments become extra fields of the JSON error object
(`order_no`, `idempotency_key`, `location`, ...).
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
    """A failed file operation as the fault it is (README: error slugs): a full disk
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
