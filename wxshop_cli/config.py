"""Settings of one invocation: option > environment > default (SPEC section 2).

An empty environment variable counts as unset. The root command builds a fresh `Settings`
for every invocation and stores it with `activate`; everything else reads `current()`.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from wxshop_cli.clock import Clock, zone
from wxshop_cli.errors import InvalidInput, UsageError

BUYER_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}", re.ASCII)
DEFAULT_BUYER = "me"


def env(name: str) -> str | None:
    """A wxshop variable's value (an empty one counts as unset). Not UTF-8 (`$'caf\\xe9'`)
    is refused like such an argument: no database, path or id takes it."""
    value = os.environ.get(name)
    if not value:
        return None
    if not is_utf8_text(value):
        raise UsageError(f"{name} is not UTF-8 text", slug="invalid_environment",
                         hint=f"set {name} to UTF-8 text, or unset it")
    return value


def is_utf8_text(text: str) -> bool:
    """False for what Python makes of bytes that are not UTF-8 (in argv or the environment:
    text with lone surrogates, which no database, path or id takes)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_buyer_name(name: str) -> str:
    if not BUYER_NAME.fullmatch(name):
        raise InvalidInput(f"invalid buyer name {name!r}", slug="invalid_buyer",
                           hint="1-32 characters of A-Z a-z 0-9 _ -")
    return name


def default_home() -> Path:
    explicit = env("WXSHOP_HOME")
    if explicit:
        import stat

        home = Path(explicit).expanduser()
        try:
            problem = None if stat.S_ISDIR(home.stat().st_mode) else "is not a directory"
        except FileNotFoundError:
            problem = None
        except OSError as exc:  # a symlink loop, a name too long, a file on the way
            problem = f"cannot be used ({exc.strerror or type(exc).__name__})"
        if problem:
            from wxshop_cli.errors import UsageError

            raise UsageError(f"WXSHOP_HOME {problem}: {home}", slug="invalid_home",
                             hint="point WXSHOP_HOME at a directory; it is created if missing")
        return home
    import platformdirs

    return Path(platformdirs.user_data_dir("wxshop", appauthor=False))


def is_url(target: str) -> bool:
    return "://" in target


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@dataclass
class Settings:
    db_option: str | None = None
    buyer_option: str | None = None
    clock: Clock = field(default_factory=Clock)
    json: bool = False
    no_input: bool = False
    quiet: bool = False  # --quiet: no talk on stderr (output.say, err_console)

    @property
    def home(self) -> Path:
        return default_home()

    @property
    def tz(self) -> ZoneInfo:
        return zone(env("WXSHOP_TZ") or "Asia/Shanghai")

    @property
    def buyer(self) -> str:
        # An empty --buyer is a mistake, not "unset" (only empty variables count as unset).
        if self.buyer_option is not None:
            return check_buyer_name(self.buyer_option)
        return check_buyer_name(env("WXSHOP_BUYER") or DEFAULT_BUYER)

    @property
    def db_target(self) -> str:
        """The database as given: a URL, a path, or the default file in the data directory."""
        if self.db_option is not None:
            if not self.db_option.strip():
                from wxshop_cli.errors import UsageError

                raise UsageError("--db is empty", slug="invalid_database_path",
                                 hint="give a path or a URL, or leave --db out")
            return self.db_option
        return env("WXSHOP_DB") or str(self.home / "wxshop.db")

    @property
    def db_url(self) -> str:
        target = self.db_target
        if is_url(target):
            return target
        return sqlite_url(Path(target).expanduser().absolute())

    @property
    def secret_key_file(self) -> Path:
        explicit = env("WXSHOP_SECRET_KEY_FILE")
        return Path(explicit).expanduser() if explicit else self.home / "secret.key"

    @property
    def interactive(self) -> bool:
        """Prompts are allowed only on a terminal and without --no-input."""
        return not self.no_input and sys.stdin.isatty()

    @property
    def debug(self) -> bool:
        # Read as is: this is asked while an error is reported, and must not raise one.
        return os.environ.get("WXSHOP_DEBUG") == "1"


_current = Settings()


def activate(settings: Settings) -> Settings:
    global _current
    _current = settings
    return settings


def current() -> Settings:
    return _current
