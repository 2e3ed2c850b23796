"""The one check for text a person types and another person reads: no character that cannot be
seen or that changes how the text around it is shown.

Refused (Unicode general categories): controls `Cc` (tabs, line breaks, escape sequences),
format characters `Cf` (zero-width spaces and joiners, soft hyphens, the byte order mark, the
bidirectional overrides and isolates that make a displayed name or title lie), surrogates `Cs`,
private-use `Co` and unassigned `Cn` code points, and the line and paragraph separators `Zl`
`Zp`. Holder names also refuse every space other than U+0020 (`plain_spaces_only`), so that
look-alike names cannot hash differently; titles and addresses keep ideographic and no-break
spaces, which Chinese text uses.

Used by addresses, card holder names, product and promotion titles and descriptions. Pure, no
imports beyond the standard library.
"""

from __future__ import annotations

import unicodedata

REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def invisible_char(text: str, *, plain_spaces_only: bool = False) -> str | None:
    """The first refused character of `text` (see the module), or None when there is none."""
    for char in text:
        category = unicodedata.category(char)
        if category in REFUSED_CATEGORIES:
            return char
        if plain_spaces_only and category == "Zs" and char != " ":
            return char
    return None


def describe(char: str) -> str:
    """`U+200B ZERO WIDTH SPACE`: how an error names a character nobody can see."""
    name = unicodedata.name(char, "")
    code = f"U+{ord(char):04X}"
    return f"{code} {name}" if name else code


def check_text(value: str, *, field: str, limit: int, slug: str, required: bool = True) -> str:
    """Free text a person types (a refund reason, a resolution note): stripped, within
    `limit` characters, no invisible characters. Raises InvalidInput (exit 3)."""
    from wxshop_cli.errors import InvalidInput

    cleaned = value.strip()
    if required and not cleaned:
        raise InvalidInput(f"{field}: must not be empty", slug=slug,
                           hint=f"write a few words in {field}")
    if len(cleaned) > limit:
        raise InvalidInput(f"{field}: longer than {limit} characters", slug=slug,
                           hint=f"keep {field} to {limit} characters")
    bad = invisible_char(cleaned)
    if bad is not None:
        raise InvalidInput(f"{field}: contains {describe(bad)}", slug=slug,
                           hint="type it as plain text on one line")
    return cleaned
