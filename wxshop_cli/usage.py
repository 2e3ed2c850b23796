"""Click's and Typer's usage errors in wxshop's words: one line `error: <what> (<hint>)` or
the JSON error object, code `usage`, exit 2, with a `reason` and the accepted choices named
(issue 14). `cli` raises and shows them; nothing here imports the database or Rich."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from wxshop_cli import errors
from wxshop_cli.config import current

if TYPE_CHECKING:  # Typer vendors its own click: its UsageError is typer.BadParameter's base
    from typer._click.exceptions import UsageError as _ClickUsageError
else:
    _ClickUsageError = typer.BadParameter.__mro__[1]


class OneLineUsageError(_ClickUsageError):
    """Click's and Typer's usage errors (unknown command or option, a missing or mistyped
    value) as wxshop's one line `error: <what> (<hint>)`, or the JSON error object with
    `--json` anywhere on the command line: code `usage`, exit 2, in wxshop's own words
    (`usage_error`); the echoed value is clipped and escaped like every error."""

    def __init__(self, original: Any, as_json: bool, path: str | None = None) -> None:
        super().__init__(original.format_message(), original.ctx)
        self.error = usage_error(original, path)
        self.as_json = as_json

    def show(self, file: Any = None) -> None:
        from wxshop_cli.output import report_error

        # The invocation's settings may not exist yet (the root options failed to parse):
        # --json is looked for in the arguments themselves.
        settings = current()
        saved, settings.json = settings.json, self.as_json
        try:
            report_error(self.error)
        finally:
            settings.json = saved


#: What a `reason` of a usage error says (README: error slugs; docs/decisions-cli.md).
USAGE_REASONS = ("unknown_command", "unknown_option", "missing_argument", "missing_option",
                 "missing_value", "unexpected_value", "extra_argument", "invalid_choice",
                 "not_a_number", "invalid_date", "invalid_time", "invalid_value",
                 "missing_command")

_FORMAT_NAMES = {"%Y-%m-%d": "YYYY-MM-DD", "%Y-%m-%dT%H:%M:%S": "YYYY-MM-DDTHH:MM:SS",
                 "%Y-%m-%d %H:%M:%S": "YYYY-MM-DD HH:MM:SS"}


def _quoted(value: Any) -> str:
    from wxshop_cli.output import shown

    text = str(value)
    if len(text) > 80:
        text = text[:79] + "…"
    return "'" + shown(text) + "'"


def _rejected_value(exc: Any) -> Any:
    """The value Typer's adapter refused (pydantic keeps it as the error's `input`)."""
    cause = exc.__cause__
    try:
        problems = cause.errors() if cause is not None and hasattr(cause, "errors") else []
    except Exception:  # not pydantic after all
        problems = []
    for problem in problems:
        if "input" in problem:
            return problem["input"]
    return None


def _param_name(param: Any, hint: Any = None) -> str:
    if hint:
        return hint if isinstance(hint, str) else " / ".join(hint)
    if param is None:
        return "a value"
    if getattr(param, "param_type_name", "") == "argument":
        return (param.metavar or param.name or "argument").upper()
    opts = [o for o in param.opts if o.startswith("--")] or list(param.opts)
    return opts[0] if opts else f"--{param.name}"


def usage_error(exc: Any, path: str | None = None) -> errors.UsageError:
    """One of click's usage exceptions as wxshop's UsageError: our words, the accepted
    choices named, never a pydantic phrase ("Input should be a valid integer")."""
    ctx = getattr(exc, "ctx", None)
    where = path or (ctx.command_path if ctx is not None else "wxshop")
    reason, message, hint, extra = _describe_usage(exc, f"see '{where} --help'")
    return errors.UsageError(message, slug="usage", hint=hint, reason=reason, **extra)


# (reason, message, hint, extra fields of the JSON error)
_Usage = tuple[str, str, str, dict[str, Any]]


def _describe_usage(exc: Any, help_hint: str) -> _Usage:
    name = type(exc).__name__
    if isinstance(exc, UnknownCommand):
        hint = help_hint
        if exc.close:
            hint = f"did you mean {' or '.join(repr(c) for c in exc.close)}? {help_hint}"
        return "unknown_command", f"unknown command {_quoted(exc.name)}", hint, {}
    if name == "NoSuchOption":
        close = sorted(exc.possibilities or ())
        hint = f"did you mean {' or '.join(close)}? {help_hint}" if close else help_hint
        return ("unknown_option", f"unknown option {_quoted(exc.option_name)}", hint,
                {"param": exc.option_name})
    if name == "BadOptionUsage":
        return _bad_option_usage(exc, help_hint)
    if isinstance(exc, OptionAsValue):
        return ("missing_value", f"{exc.option} needs a value, not the option {exc.value}",
                f"give it first, e.g. {exc.option} {exc.metavar} {exc.value}",
                {"param": exc.option})
    if name == "MissingParameter":
        label = _param_name(exc.param, exc.param_hint)
        kind = "argument" if getattr(exc.param, "param_type_name", "") == "argument" \
            else "option"
        return f"missing_{kind}", f"missing {kind} {label}", help_hint, {"param": label}
    if isinstance(exc, typer.BadParameter):
        return _bad_parameter(exc, help_hint)
    if exc.message.startswith("Got unexpected extra argument"):
        found = exc.message.rpartition(" (")[2].rpartition(")")[0]
        message = f"unexpected extra argument {_quoted(found)}" if found \
            else "unexpected extra argument"
        return "extra_argument", message, help_hint, {}
    if exc.message.startswith("Missing command"):
        return "missing_command", "missing command", help_hint, {}
    return "invalid_value", exc.message.rstrip("."), help_hint, {}


def _bad_option_usage(exc: Any, help_hint: str) -> _Usage:
    option = exc.option_name
    if "does not take a value" in exc.message:
        reason, message = "unexpected_value", f"{option} takes no value"
    elif "requires" in exc.message:
        reason, message = "missing_value", f"{option} needs a value"
    else:
        reason, message = "invalid_value", f"{option}: {exc.message.rstrip('.')}"
    return reason, message, help_hint, {"param": option}


def _bad_parameter(exc: Any, help_hint: str) -> _Usage:
    """A value click or Typer refused: a bad choice, a non-number, a bad date or time."""
    label = _param_name(exc.param, exc.param_hint)
    extra: dict[str, Any] = {"param": label}
    value = _rejected_value(exc)
    descriptor = getattr(exc.param, "type_descriptor", None)
    choices = getattr(descriptor, "choices", None) if descriptor is not None else None
    annotation = getattr(descriptor, "annotation", None)
    if choices:
        accepted = [str(getattr(c, "value", c)) for c in choices]
        extra["choices"] = accepted
        message = f"{label} cannot be {_quoted(value)}" if value is not None \
            else f"{label}: not one of the accepted values"
        return "invalid_choice", message, f"choose from: {', '.join(accepted)}", extra
    if annotation in (int, float):
        kind = "a whole number" if annotation is int else "a number"
        message = f"{label} must be {kind}, not {_quoted(value)}" if value is not None \
            else f"{label} must be {kind}"
        return "not_a_number", message, help_hint, extra
    if getattr(descriptor, "is_datetime", False):
        formats = list(getattr(getattr(descriptor, "parameter_info", None), "formats", None) or [])
        shape = " or ".join(_FORMAT_NAMES.get(f, f) for f in formats) or "YYYY-MM-DD"
        message = f"{label} is not a date {shape}: {_quoted(value)}" if value is not None \
            else f"{label} is not a date {shape}"
        return "invalid_date", message, f"a real calendar day, e.g. 2013-11-11; {help_hint}", \
            extra
    if isinstance(exc, InvalidTime):
        return ("invalid_time", f"{label} is not an ISO 8601 time: {_quoted(exc.value)}",
                "e.g. 2013-11-11T10:00:00+08:00, or a date and time in WXSHOP_TZ", extra)
    return "invalid_value", f"{label}: {exc.message.rstrip('.')}", help_hint, extra


class UnknownCommand(_ClickUsageError):
    """`wxshop frobnicate`: the name, and the commands it is close to."""

    def __init__(self, name: str, close: list[str], ctx: Any) -> None:
        super().__init__(f"No such command {name!r}.", ctx)
        self.name = name
        self.close = close


class InvalidTime(typer.BadParameter):
    """`--now tomorrow` (or WXSHOP_NOW): not an ISO 8601 time."""

    def __init__(self, value: str, source: str) -> None:
        super().__init__(f"not an ISO 8601 time: {value!r}", param_hint=source)
        self.value = value


class OptionAsValue(_ClickUsageError):
    """`bill export -o --json`: the option took the next word, one of the command's own
    options, as its value (click would write a bill named `--json`)."""

    def __init__(self, option: str, metavar: str, value: str, ctx: Any) -> None:
        super().__init__(f"{option} needs a value, not the option {value}", ctx)
        self.option, self.metavar, self.value = option, metavar, value


def refuse_options_taken_as_values(command: Any, ctx: Any, args: list[str]) -> None:
    """Before parsing: an option that takes a value is not followed by one of the command's
    own options (before its value is converted: `--date --json` is this mistake too, not a
    bad date). A group's options end at its subcommand's name."""
    params = [p for p in command.get_params(ctx) if p.param_type_name == "option"]
    names = {name for p in params for name in (*p.opts, *p.secondary_opts)}
    takes_value = {name: p for p in params if not (p.is_flag or p.count) for name in p.opts}
    is_group = hasattr(command, "commands")
    index = 0
    while index < len(args):
        word = args[index]
        if word == "--" or (is_group and not word.startswith("-")):
            return
        param = takes_value.get(word)
        if param is not None and index + 1 < len(args) and args[index + 1] in names:
            option = next((o for o in param.opts if o.startswith("--")), param.opts[0])
            raise OptionAsValue(option, param.metavar or "VALUE", args[index + 1], ctx)
        index += 2 if param is not None else 1
