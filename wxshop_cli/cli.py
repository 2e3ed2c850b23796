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
from wxshop_cli.config import current, is_utf8_text
from wxshop_cli.helpformat import HelpWithExamples, WxCommand
from wxshop_cli.usage import (  # noqa: F401  (app and tests import these from cli)
    USAGE_REASONS,
    InvalidTime,
    OneLineUsageError,
    UnknownCommand,
    _ClickUsageError,
    refuse_options_taken_as_values,
)

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
            if isinstance(text, str | PurePath) and not is_utf8_text(str(text)):
                from wxshop_cli.output import shown

                raw = repr(str(text).encode("utf-8", "surrogateescape"))[2:-1]
                raise errors.UsageError(f"an argument is not UTF-8 text: {shown(raw)}",
                                        slug="invalid_argument",
                                        hint="arguments, ids and paths are UTF-8 text")


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
    # What Typer reads to build the options (functools.wraps copied the original's).
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=params)
    return wrapper


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
        if not ctx.resilient_parsing:  # `wxshop --db --json …`
            refuse_options_taken_as_values(self, ctx, args)
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
