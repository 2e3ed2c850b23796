"""Start-up without what a command does not use (issue 10).

Typer >= 0.29 coerces every parameter value through a pydantic `TypeAdapter`, built on first
use, so even `wxshop regions` or `wxshop buy --help` (whose root options `--db`, `--buyer`,
`--now` are processed first) imported pydantic: about as costly as Typer itself. A plain
text (flag, whole number) parameter needs no pydantic: a value the parser read from the
command line is already the `str` (`bool`) that pydantic would return unchanged, or digits
that `int()` reads exactly as pydantic does. `install()` gives such parameters a coercion
that does just that and hands anything else (and every error) to Typer's own adapter, so
behaviour is the same and pydantic is imported only by commands that use it.

If Typer's internals differ from what this expects, nothing is patched (start-up is then
slower, never wrong); tests/test_cli_contract.py notices.
"""

from __future__ import annotations

import re
from typing import Any

_installed = False
_DIGITS = re.compile(r"[+-]?[0-9]{1,18}", re.ASCII)


def install() -> None:
    global _installed
    if _installed:
        return
    try:
        from dataclasses import dataclass

        from typer import core
        from typer._coercion import RuntimeParam, build_runtime_param
    except ImportError:  # another Typer: leave it as it is
        return
    parameter = getattr(core, "_TyperParameter", None)
    original = getattr(parameter, "get_runtime_param", None)
    if parameter is None or original is None:
        return

    @dataclass(frozen=True)
    class TextParam(RuntimeParam):
        """A `str`, `bool` or `int` parameter: a value of that type is returned unchanged,
        plain digits become an int; anything else (and every error) is Typer's adapter's."""

        descriptor: Any = None

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if type(value) is self.annotation:
                return value
            if self.annotation is int and isinstance(value, str) and _DIGITS.fullmatch(value):
                return int(value)  # what pydantic makes of "12", "+12", "-0012"
            return build_runtime_param(self.descriptor)._coerce_value(value, param, ctx)

    def get_runtime_param(self: Any) -> Any:
        if self._runtime_param is None and _is_plain_text(self):
            desc = self.type_descriptor
            self._runtime_param = TextParam(parameter_info=desc.parameter_info,
                                            annotation=desc.annotation, descriptor=desc)
        return original(self)

    parameter.get_runtime_param = get_runtime_param
    _installed = True


def _is_plain_text(param: Any) -> bool:
    desc = getattr(param, "type_descriptor", None)
    if desc is None or desc.annotation not in (str, bool, int) or desc.is_ranged:
        return False
    return not (desc.is_file or desc.is_path or desc.is_choice or desc.is_list
                or desc.is_tuple)
