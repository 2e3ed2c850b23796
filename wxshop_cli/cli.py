"""The command-line contract in one place: every command gets `--json` and `--no-input`, and
every error becomes one line on stderr with its documented exit code.

Command modules build their groups with `group()` and declare commands with `@grp.command()`
as usual; the wrapper added here is the only place that turns exceptions into exit codes.
Nothing here imports the database layer (start-up stays fast).
"""

from __future__ import annotations

import functools
import inspect
from pathlib import PurePath
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from wxshop_cli import errors
from wxshop_cli.config import current
from wxshop_cli.helpformat import HelpWithExamples, WxCommand

if TYPE_CHECKING:  # Typer vendors its own click: its UsageError is typer.BadParameter's base
    from typer._click.exceptions import UsageError as _ClickUsageError
else:
    _ClickUsageError = typer.BadParameter.__mro__[1]

_JSON = inspect.Parameter(
    "wx_json_output",
    inspect.Parameter.KEYWORD_ONLY,
    default=False,
    annotation=Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")],
)
_NO_INPUT = inspect.Parameter(
    "wx_no_input",
    inspect.Parameter.KEYWORD_ONLY,
    default=False,
    annotation=Annotated[
        bool, typer.Option("--no-input", help="Never prompt; a missing value is a usage error.")
    ],
)


def run_guarded(func, *args: Any, **kwargs: Any) -> Any:
    """Call a command body and translate what it raises into the exit-code contract."""
    from wxshop_cli.output import report_error

    settings = current()
    try:
        _refuse_undecodable([*args, *kwargs.values(), settings.db_option,
                             settings.buyer_option])
        return func(*args, **kwargs)
    except errors.WxError as exc:
        if settings.debug:
            import traceback

            traceback.print_exc()
        report_error(exc)
        raise typer.Exit(exc.exit_code) from None
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt:
        report_error(errors.Interrupted("interrupted", hint="nothing after the interruption "
                                                            "was done; rerun to continue"))
        raise typer.Exit(errors.INTERRUPTED) from None
    except Exception as exc:  # the last net: one line, never a traceback unless asked
        translated = translate_exception(exc)
        if settings.debug:
            import traceback

            traceback.print_exc()
        report_error(translated)
        raise typer.Exit(translated.exit_code) from None


def confirm_or_stop(question: str, *, yes: bool) -> None:
    """Ask before a destructive action, on a terminal only: `--yes`/`-y`, `--no-input` or a
    stdin that is not a terminal go ahead without a question (scripts need no `--yes`). A
    "no" (or Ctrl-D) stops the command with nothing changed: `not_confirmed`, exit 130."""
    settings = current()
    if yes or not settings.interactive:
        return
    from wxshop_cli.output import confirm

    try:
        agreed = confirm(question, default=False)
    except EOFError:
        agreed = False
    if not agreed:
        raise errors.Interrupted("not confirmed: nothing was changed", slug="not_confirmed",
                                 hint="answer y, or pass --yes to skip the question")


#: The `--yes` option of the commands that confirm (`confirm_or_stop`).
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation on a "
                                                       "terminal.")]


def _refuse_undecodable(values: list[Any]) -> None:
    """An argument that is not UTF-8 (`orders show $'caf\\xe9'`) reaches Python as text with
    lone surrogates, which no database or file name takes: a usage error for every command,
    decided here once."""
    for value in values:
        for text in (value if isinstance(value, list | tuple) else (value,)):
            if isinstance(text, str | PurePath) and not str(text).isascii():
                try:
                    str(text).encode("utf-8")
                except UnicodeEncodeError:
                    from wxshop_cli.output import shown

                    raw = repr(str(text).encode("utf-8", "surrogateescape"))[2:-1]
                    raise errors.UsageError(f"an argument is not UTF-8 text: {shown(raw)}",
                                            slug="invalid_argument",
                                            hint="arguments, ids and paths are UTF-8 "
                                                 "text") from None


def translate_exception(exc: Exception) -> errors.WxError:
    """Database trouble becomes "try again later"; anything else is an internal error."""
    module = type(exc).__module__ or ""
    if module.startswith("sqlalchemy"):
        from wxshop_cli.db.engine import translate_db_error

        return translate_db_error(exc)
    if isinstance(exc, BrokenPipeError):
        return errors.WxError("output closed early", slug="broken_pipe")
    if isinstance(exc, OSError):  # the machine's fault, not a bug: a full disk, a read-only file
        return errors.os_error(exc, str(exc.filename) if exc.filename else "output")
    if isinstance(exc, RecursionError | MemoryError):
        return errors.InvalidInput(f"input too large or too deeply nested ({type(exc).__name__})",
                                   slug="input_too_large",
                                   hint="split or flatten the input file")
    return errors.WxError(f"unexpected {type(exc).__name__}: {exc}", slug="internal_error",
                          hint="run again with WXSHOP_DEBUG=1 for a traceback")


def _with_common_options(func):
    """Add `--json`/`--no-input` to a command's signature and guard its body."""
    signature = inspect.signature(func, eval_str=True)  # modules use postponed annotations

    @functools.wraps(func)
    def wrapper(*args: Any, wx_json_output: bool = False, wx_no_input: bool = False,
                **kwargs: Any) -> Any:
        settings = current()
        settings.json = settings.json or wx_json_output
        settings.no_input = settings.no_input or wx_no_input
        return run_guarded(func, *args, **kwargs)

    params = list(signature.parameters.values()) + [_JSON, _NO_INPUT]
    wrapper.__signature__ = signature.replace(parameters=params)
    return wrapper


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


class OneLineGroup(HelpWithExamples, TyperGroup):
    """Every group: click's usage errors anywhere below the root become one line (the root
    converts them, knowing every argument); an unknown command names the close ones."""

    def _one_line(self, exc: Any, args: Any) -> Any:
        if isinstance(exc, OneLineUsageError) or type(exc).__name__ == "NoArgsIsHelpError":
            return exc
        # A parser error (`--status` without its value) carries no context: the command
        # being resolved last is the one it belongs to.
        path = None if getattr(exc, "ctx", None) is not None else _resolving.get("path")
        return OneLineUsageError(exc, as_json="--json" in (args or ()), path=path)

    def parse_args(self, ctx: Any, args: Any) -> Any:
        """`wxshop` (or `wxshop orders`) alone prints its help on stdout and exits 0."""
        if not args and self.no_args_is_help and not ctx.resilient_parsing:
            typer.echo(ctx.get_help())
            ctx.exit(0)
        return super().parse_args(ctx, args)

    def resolve_command(self, ctx: Any, args: Any) -> Any:
        name = args[0] if args else ""
        if (name and not name.startswith("-") and not ctx.resilient_parsing
                and self.get_command(ctx, name) is None):
            import difflib

            close = difflib.get_close_matches(name, self.list_commands(ctx), n=2)
            raise UnknownCommand(name, close, ctx)
        found = super().resolve_command(ctx, args)
        if found[0]:
            _resolving["path"] = f"{ctx.command_path} {found[0]}"
        return found

    def make_context(self, info_name: Any, args: Any, parent: Any = None, **extra: Any):
        if parent is not None:  # a sub-group: the root converts, knowing every argument
            return super().make_context(info_name, args, parent=parent, **extra)
        self._args = list(args)  # a copy: click's parser consumes the list it is given
        _resolving.clear()
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except _ClickUsageError as exc:
            raise self._one_line(exc, self._args) from None

    def invoke(self, ctx: Any) -> Any:
        if ctx.parent is not None:
            return super().invoke(ctx)
        try:
            return super().invoke(ctx)
        except _ClickUsageError as exc:
            raise self._one_line(exc, getattr(self, "_args", ())) from None


_resolving: dict[str, str] = {}


class WxTyper(typer.Typer):
    """A Typer whose commands all accept --json/--no-input and follow the error contract."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = kwargs.get("cls") or OneLineGroup
        if not issubclass(cls, OneLineGroup):  # e.g. the root's lazy group: one line too
            cls = type(cls.__name__, (OneLineGroup, cls), {})
        kwargs["cls"] = cls
        super().__init__(*args, **kwargs)

    def command(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("cls", WxCommand)
        register = super().command(*args, **kwargs)

        def decorator(func):
            register(_with_common_options(func))
            return func

        return decorator


def group(name: str, help: str) -> WxTyper:
    return WxTyper(name=name, help=help, no_args_is_help=True, add_completion=False,
                   pretty_exceptions_show_locals=False, rich_markup_mode=None)
