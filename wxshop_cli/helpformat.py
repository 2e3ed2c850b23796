"""How wxshop's help reads (issue 14): the summary and description, arguments and options
with real metavars, then the gh-style Examples taken from the end of the help text.
Imported by `cli` (no Rich, no database: `--help` stays cheap)."""

from __future__ import annotations

import inspect
import textwrap
from typing import Any

from typer.core import TyperCommand

EXAMPLES = "Examples:"


def split_examples(text: str | None) -> tuple[str | None, tuple[str, ...]]:
    """A help text whose last section starts with the line `Examples:` → (the text before
    it, the example lines: `$ wxshop …` invocations and `# …` comments, gh's style)."""
    if not text:
        return text, ()
    text = inspect.cleandoc(text)
    head, marker, tail = text.partition("\n" + EXAMPLES + "\n")
    if not marker:
        return text, ()
    lines = tuple(line.rstrip() for line in textwrap.dedent(tail).strip("\n").splitlines())
    return head.rstrip(), tuple(line for line in lines if line)


class HelpWithExamples:
    """The help of every wxshop command and group: its summary and description, the
    arguments and options with real metavars (`CODE`, `ITEM`, `[CARD]`, never `{item}` nor
    `<str>`), then the `Examples:` section taken from the end of its help text, printed as
    written (plain text: help is never coloured)."""

    examples: tuple[str, ...] = ()
    help: str | None  # set by click's Command.__init__ (the class this is mixed into)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help, self.examples = split_examples(self.help)

    def format_epilog(self, ctx: Any, formatter: Any) -> None:
        if self.examples:
            with formatter.section(EXAMPLES.rstrip(":")):
                for line in self.examples:
                    formatter.write(" " * formatter.current_indent + line + "\n")
        super().format_epilog(ctx, formatter)  # type: ignore[misc]


def _argument_label(param: Any) -> str:
    name = param.metavar or (param.name or "argument").upper()
    return name + ("..." if param.nargs != 1 else "")


class WxCommand(HelpWithExamples, TyperCommand):
    """A leaf command: arguments shown as `ITEM` / `[ITEM]`, never `{item}` or `<str>`; an
    option never takes another of its options as its value (`-o --json`)."""

    def parse_args(self, ctx: Any, args: Any) -> Any:
        from wxshop_cli.usage import refuse_options_taken_as_values

        if not ctx.resilient_parsing:
            refuse_options_taken_as_values(self, ctx, args)
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                label = _argument_label(param)
                pieces.append(label if param.required else f"[{label}]")
            else:
                pieces.extend(param.get_usage_pieces(ctx))
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.param_type_name == "argument":
                # The usage line says whether it is required; no `<str>` after the name.
                text = record[1].replace("  [required]", "").replace("[required]", "")
                arguments.append((_argument_label(param), text.strip()))
            else:
                options.append(record)
        for title, rows in (("Arguments", arguments), ("Options", options)):
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)
