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
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from wxshop_cli import errors
from wxshop_cli.config import current

# Typer vendors its own click: its UsageError is the base of typer.BadParameter.
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
    wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    return wrapper


class OneLineUsageError(_ClickUsageError):
    """Click's usage errors (unknown option, bad value) as wxshop's one line: `error: <what>
    (see 'wxshop X --help')`, or the JSON error object; the echoed value is clipped and
    escaped like every error."""

    def __init__(self, original: Any, as_json: bool) -> None:
        super().__init__(original.format_message(), original.ctx)
        self.as_json = as_json

    def show(self, file: Any = None) -> None:
        from wxshop_cli.output import report_error

        path = self.ctx.command_path if self.ctx is not None else "wxshop"
        # The invocation's settings may not exist yet (the root options failed to parse):
        # --json is looked for in the arguments themselves.
        settings = current()
        saved, settings.json = settings.json, self.as_json
        try:
            report_error(errors.UsageError(self.message, slug="usage",
                                           hint=f"see '{path} --help'"))
        finally:
            settings.json = saved


class OneLineGroup(TyperGroup):
    """The root group: click's usage errors anywhere below it become one line."""

    def _one_line(self, exc: Any, args: Any) -> Any:
        if isinstance(exc, OneLineUsageError) or type(exc).__name__ == "NoArgsIsHelpError":
            return exc
        return OneLineUsageError(exc, as_json="--json" in (args or ()))

    def make_context(self, info_name: Any, args: Any, parent: Any = None, **extra: Any):
        if parent is not None:  # a sub-group: the root converts, knowing every argument
            return super().make_context(info_name, args, parent=parent, **extra)
        self._args = list(args)
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except _ClickUsageError as exc:
            raise self._one_line(exc, args) from None

    def invoke(self, ctx: Any) -> Any:
        if ctx.parent is not None:
            return super().invoke(ctx)
        try:
            return super().invoke(ctx)
        except _ClickUsageError as exc:
            raise self._one_line(exc, getattr(self, "_args", ())) from None


class WxTyper(typer.Typer):
    """A Typer whose commands all accept --json/--no-input and follow the error contract."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        cls = kwargs.get("cls") or OneLineGroup
        if not issubclass(cls, OneLineGroup):  # e.g. the root's lazy group: one line too
            cls = type(cls.__name__, (OneLineGroup, cls), {})
        kwargs["cls"] = cls
        super().__init__(*args, **kwargs)

    def command(self, *args: Any, **kwargs: Any):
        register = super().command(*args, **kwargs)

        def decorator(func):
            register(_with_common_options(func))
            return func

        return decorator


def group(name: str, help: str) -> WxTyper:
    return WxTyper(name=name, help=help, no_args_is_help=True, add_completion=False,
                   pretty_exceptions_show_locals=False, rich_markup_mode=None)
