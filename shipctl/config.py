"""Profiles, settings and credentials (SPEC §3).

One TOML file per user (``platformdirs.user_config_dir("shipctl")/config.toml``, or
``--config`` / ``SHIPCTL_CONFIG``), one table per profile and API section::

    [profiles.default.ewe]
    username = "test"
    password = "123456"

``resolve`` applies the precedence of SPEC §3, highest first: command-line flag → the sandbox's
values (``--sandbox``) → environment ``SHIPCTL_<SECTION>_<KEY>`` → the profile in the file →
the built-in default. An empty value counts as not given at every level, so an empty
``SHIPCTL_EWE_URL=`` in a cron environment does not blank out the default.

The file is written atomically (temp file in the same directory, fsync, rename) with mode
0600 in a 0700 directory, under a lock so two concurrent ``config set`` never lose a change.
A file that cannot be parsed is reported with its line and column and never overwritten.
``config set``/``unset`` change the one value and keep everything else of a hand-edited file —
comments, blank lines, order, quoting — byte for byte (tomlkit); what they write is parsed
again and must mean exactly the intended change, else the file is left as it was.

Only the standard library is imported at module level: tomllib (reading), tomlkit (writing)
and platformdirs are imported where they are used, to keep start-up and TAB completion fast.
"""

from __future__ import annotations

import math
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipctl import secrets
from shipctl.errors import ConfigError, UsageError
from shipctl.provider import KeySpec, providers

if TYPE_CHECKING:
    from shipctl.output import Output

DEFAULT_PROFILE = "default"
FILE_NAME = "config.toml"
# A config file is a few hundred bytes; anything this large is the wrong file.
MAX_BYTES = 1024 * 1024
# Profile names are typed in shells and offered by TAB completion: keep them plain.
PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


# -- the key table (SPEC §3): each provider declares its own keys; completion and `config show`
# read them here, in the order of the registry
KEYS: dict[str, KeySpec] = {spec.name: spec for p in providers() for spec in p.keys}
SECTIONS = tuple(dict.fromkeys(spec.section for spec in KEYS.values()))


def key_spec(key: str) -> KeySpec:
    """The spec of KEY, or a UsageError suggesting the nearest known key."""
    spec = KEYS.get(key)
    if spec is not None:
        return spec
    suggestion = _nearest(key, KEYS)
    if suggestion:
        raise UsageError(f"unknown config key {key!r} (did you mean {suggestion}?)")
    raise UsageError(f"unknown config key {key!r} (keys: {', '.join(KEYS)})")


def _nearest(word: str, choices: Any) -> str | None:
    from shipctl.suggest import nearest

    return nearest(word, choices)


def check_profile_name(name: str) -> str:
    if not PROFILE_NAME.fullmatch(name):
        raise UsageError(
            f"invalid profile name {name!r}: use letters, digits, '-', '_' and '.'"
            " (at most 64 characters, starting with a letter or digit)"
        )
    return name


# -- values ---------------------------------------------------------------------------------
def _convert(spec: KeySpec, raw: Any) -> Any:
    """RAW as KEY's type; ValueError says what was expected (never echoing a secret)."""
    if spec.type == "float":
        if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
            raise ValueError(f"must be a number ≥ 0, not a TOML {_toml_type(raw)}")
        try:
            number = float(raw.strip()) if isinstance(raw, str) else float(raw)
        except ValueError:
            raise ValueError(f"must be a number ≥ 0, got {raw!r}") from None
        if not math.isfinite(number) or number < 0:
            raise ValueError(f"must be a number ≥ 0, got {raw!r}")
        return number
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)  # `company_id = 1` is natural TOML for an id
    if not isinstance(raw, str):
        raise ValueError(f"must be a string, not a TOML {_toml_type(raw)}")
    if spec.type == "url":
        return _check_url(raw)
    return raw


def _toml_type(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array",
             dict: "table"}
    return names.get(type(value), "date/time")


def _check_url(text: str) -> str:
    from urllib.parse import urlsplit

    if any(c.isspace() or not c.isprintable() for c in text):
        raise ValueError(f"must be a URL without spaces, got {text!r}")
    try:
        parts = urlsplit(text)
        host = parts.hostname
        _ = parts.port  # raises on a non-numeric port
    except ValueError as error:
        raise ValueError(f"is not a valid URL ({error})") from None
    if parts.username is not None or parts.password is not None:
        # Credentials in a URL would be printed wherever the URL is: they have their own keys.
        raise ValueError("must not contain a username or password; set them as their own keys")
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise ValueError(f"must be an http:// or https:// URL with a host, got {text!r}")
    # Clients append paths ("{ewe.url}/modifyShipment"): no trailing slash, no "//".
    return text.rstrip("/")


def parse_value(spec: KeySpec, text: str) -> Any:
    """A value typed by the user for `config set`: checked and converted, or a UsageError."""
    if text == "":
        raise UsageError(
            f"empty value for {spec.name}; to remove it run `shipctl config unset {spec.name}`"
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"{spec.name}: the value is not valid Unicode text") from None
    try:
        value = _convert(spec, text)
    except ValueError as error:
        raise UsageError(f"{spec.name} {error}") from None
    if spec.type == "path":
        # Relative to where the user typed it, not to wherever cron later runs us.
        value = os.path.abspath(os.path.expanduser(value))
    return value


@dataclass
class Setting:
    key: str
    value: Any
    source: str  # "flag", "sandbox", an env var name, the config file path, "default", "unset"
    secret: bool = False

    def shown(self, show_secrets: bool = False) -> Any:
        """The value as printed: a secret is MASK unless the user asked to see it."""
        if self.secret and self.value not in (None, "") and not show_secrets:
            return secrets.MASK
        return self.value

    def as_dict(self, show_secrets: bool = False) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": self.shown(show_secrets),
            "source": self.source,
            "secret": self.secret,
        }


def _given(value: Any) -> bool:
    return value is not None and value != ""


def resolve(
    cfg: ConfigFile,
    profile: str,
    key: str,
    *,
    flag: Any = None,
    overrides: dict[str, Any] | None = None,
) -> Setting:
    """KEY for PROFILE by SPEC §3's precedence; every secret returned is registered."""
    spec = key_spec(key)

    def found(raw: Any, source: str, error: type[Exception], where: str, of: str = "") -> Setting:
        if spec.secret and isinstance(raw, str):
            secrets.register(raw)  # before anything could print it
        try:
            value = _convert(spec, raw)
        except ValueError as problem:
            raise error(f"{where}: {spec.name}{of} {problem}") from None
        if spec.secret:
            secrets.register(value)
        return Setting(spec.name, value, source, spec.secret)

    if _given(flag):
        return found(flag, "flag", UsageError, "command line")
    if overrides and _given(overrides.get(spec.name)):
        return found(overrides[spec.name], "sandbox", ConfigError, "sandbox")
    env = os.environ.get(spec.env)
    if _given(env):
        return found(env, spec.env, ConfigError, spec.env)
    raw = cfg.raw(profile, spec)
    if _given(raw):
        where = cfg.location(profile, spec)
        setting = found(raw, str(cfg.path), ConfigError, where, f" (profile {profile!r})")
        if spec.type == "path" and setting.value:
            # A relative path in the file is relative to the file, wherever we run from.
            path = Path(os.path.expanduser(setting.value))  # Path.expanduser raises on "~x"
            setting.value = str(path if path.is_absolute() else cfg.path.parent / path)
        return setting
    if spec.default is not None:
        return Setting(spec.name, spec.default, "default", spec.secret)
    return Setting(spec.name, None, "unset", spec.secret)


def missing_error(key: str, profile: str, path: Path | str) -> ConfigError:
    spec = key_spec(key)
    select = "" if profile == DEFAULT_PROFILE else f" --profile {profile}"
    return ConfigError(
        f"{key} is not set for profile {profile!r}: run `shipctl config set{select} {key}`"
        f" or set {spec.env}"
    )


# -- the file -------------------------------------------------------------------------------
def default_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("shipctl")) / FILE_NAME


def config_path(path: Path | str | None) -> Path:
    """The file a command uses: --config / SHIPCTL_CONFIG, else the per-user one; absolute."""
    if path is None or str(path) == "":
        return default_path()
    return Path(os.path.expanduser(str(path))).absolute()


@dataclass
class ConfigFile:
    path: Path
    data: dict[str, Any] = field(default_factory=dict)
    exists: bool = False
    text: str = ""
    mode: int | None = None  # permission bits of the file when loaded
    # The file as tomlkit sees it (comments and layout included); parsed on the first change.
    _document: Any = field(default=None, repr=False, compare=False)
    _changed: list[str] = field(default_factory=list, repr=False, compare=False)

    def profiles(self) -> list[str]:
        return list(self.data.get("profiles", {}))

    def unknown_profile(self, name: str) -> ConfigError:
        names = self.profiles()
        if names:
            return ConfigError(
                f"unknown profile {name!r} in {self.path} (profiles: {', '.join(names)})"
            )
        state = "defines no profiles" if self.exists else "does not exist yet"
        return ConfigError(
            f"unknown profile {name!r}: {self.path} {state}; create the profile with"
            f" `shipctl config set --profile {name} KEY VALUE`"
        )

    def raw(self, profile: str, spec: KeySpec) -> Any:
        """The value as stored in the file, or None. A profile other than "default" must exist."""
        profiles = self.data.get("profiles", {})
        if profile not in profiles:
            if profile == DEFAULT_PROFILE:
                return None
            raise self.unknown_profile(profile)
        return profiles[profile].get(spec.section, {}).get(spec.leaf)

    def raw_or_none(self, profile: str, spec: KeySpec) -> Any:
        """Like ``raw`` but an unknown profile is simply absent (for `config unset`)."""
        table = self.data.get("profiles", {}).get(profile, {}).get(spec.section, {})
        return table.get(spec.leaf) if isinstance(table, dict) else None

    def location(self, profile: str, spec: KeySpec) -> str:
        """'path:line' of the key's assignment when it can be found by eye, else 'path'."""
        line = _line_of(self.text, profile, spec)
        return f"{self.path}:{line}" if line else str(self.path)

    def set(self, profile: str, key: str, value: Any) -> None:
        spec = key_spec(key)
        self._change(key, lambda document: _set_in(document, profile, spec, value))
        profiles = self.data.setdefault("profiles", {})
        profiles.setdefault(profile, {}).setdefault(spec.section, {})[spec.leaf] = value

    def unset(self, profile: str, key: str) -> bool:
        """Remove KEY from PROFILE; False when it was not there. The profile itself stays.

        A section left empty goes too, unless it holds comments (they are never dropped).
        """
        spec = key_spec(key)
        section = self.data.get("profiles", {}).get(profile, {}).get(spec.section)
        if not section or spec.leaf not in section:
            return False
        removed = self._change(key, lambda document: _unset_in(document, profile, spec))
        del section[spec.leaf]
        if removed:
            del self.data["profiles"][profile][spec.section]
        return True

    def _change(self, key: str, change: Any) -> Any:
        from tomlkit.exceptions import TOMLKitError

        self._changed.append(key)
        if self._document is None:
            import tomlkit

            try:
                self._document = tomlkit.parse(self.text)
            except (TOMLKitError, ValueError, RecursionError) as error:
                raise self._cannot_keep(key, error) from None
        try:
            return change(self._document)
        except (TOMLKitError, ValueError, TypeError, KeyError) as error:
            raise self._cannot_keep(key, error) from None

    def _cannot_keep(self, key: str, reason: object) -> ConfigError:
        return ConfigError(
            f"cannot change {key} in {self.path} while keeping the rest of the file as it is"
            f" ({reason or 'its layout'}); edit the file by hand (it was not changed)"
        )

    def _render(self) -> str:
        """The new text: the old one with only the changes made; checked by parsing it again."""
        import tomlkit

        if self._document is None:  # nothing changed
            return self.text
        text = tomlkit.dumps(self._document)
        # A new table opens and closes with a blank line: none at either end of the file
        # where it had none (nor a final newline added to a file that had none).
        if not self.text.startswith("\n"):
            text = text.lstrip("\n")
        if self.text and not self.text.endswith("\n"):
            text = text.rstrip("\n")
        elif not self.text.endswith("\n\n"):
            text = text.rstrip("\n") + "\n" if text.strip() else ""
        if self.text.count("\r\n") == self.text.count("\n") > 0:  # a Windows editor's file
            text = re.sub(r"(?<!\r)\n", "\r\n", text)
        keys = ", ".join(dict.fromkeys(self._changed)) or "nothing"
        try:
            meaning = _parse(text, self.path)
        except ConfigError as error:
            raise self._cannot_keep(keys, error) from None
        if meaning != self.data:
            raise self._cannot_keep(keys, "the result would mean more than that change")
        return text

    def save(self) -> None:
        """Write atomically: temp file beside the target, fsync, rename. Mode 0600."""
        payload = self._render().encode("utf-8")
        # Write through a symlink (dotfile managers) rather than replacing the link itself.
        real = Path(os.path.realpath(self.path))
        ensure_directory(real.parent)
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".tmp", dir=real.parent)
        except OSError as error:
            raise ConfigError(f"cannot write {self.path}: {error.strerror}") from None
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)  # mkstemp's default, made explicit: the file holds secrets
            os.replace(tmp, real)
        except OSError as error:
            with suppress(OSError):
                os.unlink(tmp)
            raise ConfigError(
                f"cannot write {self.path}: {error.strerror or error}; the file was not changed"
            ) from None
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_directory(real.parent)
        self.exists = True
        self.text = payload.decode("utf-8")
        self._document = None  # further changes start from the text as written
        self._changed.clear()
        self.mode = 0o600


def _set_in(document: Any, profile: str, spec: KeySpec, value: Any) -> None:
    """Set [profiles.PROFILE.SECTION] LEAF = VALUE in a tomlkit document, in place."""
    import tomlkit
    from tomlkit.items import InlineTable

    before: list[Any] = []  # the table the first new one is rendered after

    def child(parent: Any, name: str, super_table: bool) -> Any:
        found = parent.get(name)
        if found is not None:
            return found
        if not before:
            before.append(_last_table(parent))
        if isinstance(parent, InlineTable):  # profiles = { default = { … } }: stay inline
            parent[name] = tomlkit.inline_table()
        elif super_table:  # no [profiles] or [profiles.NAME] header of its own
            parent[name] = tomlkit.table(is_super_table=True)
        else:
            table = tomlkit.table()
            table[spec.leaf] = value
            table.add(tomlkit.nl())  # a blank line before whatever follows it
            parent[name] = table
        return parent[name]

    profiles = child(document, "profiles", True)
    section = child(child(profiles, profile, True), spec.section, False)
    section[spec.leaf] = value  # in place: its comment and the lines around it stay
    if before and before[0] is not None and not isinstance(section, InlineTable):
        _move_header_comments(before[0], section)


def _last_table(container: Any) -> Any:
    """The [table] whose lines end CONTAINER's text (a new table is rendered after it)."""
    from tomlkit.items import Table

    body = getattr(container, "body", None)  # a Document
    if body is None:
        body = getattr(getattr(container, "value", None), "body", None)  # a Table
    if not body or not isinstance(body[-1][1], Table):
        return None
    last = body[-1][1]
    return _last_table(last) if last.is_super_table() else last


def _move_header_comments(previous: Any, new: Any) -> None:
    """Comment lines that end PREVIOUS right above the next header describe that header: keep
    them above it, after the NEW table, rather than between the new table and its neighbour."""
    from tomlkit.items import Comment, Whitespace

    body = previous.value.body
    start = len(body)
    while start and body[start - 1][0] is None and isinstance(body[start - 1][1], Comment):
        start -= 1
    moved = body[start:]
    if not moved:
        return
    del body[start:]  # only key-less items: the indices of previous's keys stay valid
    for _, item in moved:
        new.add(item)
    if body and isinstance(body[-1][1], Whitespace):
        new.trivia.indent = ""  # the blank lines that were above the comments now lead to it


def _unset_in(document: Any, profile: str, spec: KeySpec) -> bool:
    """Remove LEAF from [profiles.PROFILE.SECTION]; True when the emptied section went too."""
    import tomlkit
    from tomlkit.items import Comment

    table = document["profiles"][profile]
    section = table[spec.section]
    del section[spec.leaf]
    if len(section) or getattr(section, "trivia", None) and section.trivia.comment:
        return False
    body = getattr(getattr(section, "value", None), "body", [])
    if any(isinstance(item, Comment) for _, item in body):
        return False  # the user's notes stay, under the header they were written for
    del table[spec.section]
    if not len(table) and getattr(table, "is_super_table", bool)():
        # [profiles.NAME] keeps the profile, as before the last key went
        table = document["profiles"][profile] = tomlkit.table()
    return True


def load(
    path: Path | str | None = None,
    out: Output | None = None,
    *,
    check_permissions: bool = True,
    must_exist: str | None = None,
) -> ConfigFile:
    """Read the config file. Missing → empty config (nothing is created until a `set`).

    ``must_exist`` names where an explicitly chosen file came from ("--config",
    "SHIPCTL_CONFIG"): such a file that does not exist is a ConfigError naming it, not an
    empty config that later fails on some key the user did set — in the file they meant.
    """
    target = config_path(path)
    try:
        info = target.stat()
    except FileNotFoundError:
        if must_exist:
            raise missing_file_error(target, must_exist) from None
        return ConfigFile(target)
    except OSError as error:
        raise ConfigError(f"cannot read config file {target}: {error.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"config file {target} is a directory, not a file")
    try:
        # Not only regular files: `--config <(pass show shipctl)` is a fine way to keep secrets.
        with open(target, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise ConfigError(f"cannot read config file {target}: {error.strerror}") from None
    if len(data) > MAX_BYTES:
        raise ConfigError(f"config file {target} is larger than 1 MiB; is it the right file?")
    text = _decode(data, target)
    document = _parse(text, target)
    cfg = ConfigFile(target, document, True, text, stat.S_IMODE(info.st_mode))
    _check_structure(cfg, out)
    if check_permissions and out is not None and stat.S_ISREG(info.st_mode):
        _warn_permissions(cfg, out)
    return cfg


def missing_file_error(target: Path, origin: str) -> ConfigError:
    given = f"--config {target}" if origin == "--config" else f"{origin}={target}"
    return ConfigError(
        f"config file {target} does not exist (given by {given}); check the path, or create it"
        f" with `shipctl --config {target} config set KEY VALUE`"
    )


def _decode(data: bytes, target: Path) -> str:
    if data.startswith(b"\xef\xbb\xbf"):  # a BOM from a Windows editor: harmless, skip it
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
        raise ConfigError(
            f"{target}: not UTF-8 text at line {line}, column {column}; the file was not changed"
        ) from None


def _parse(text: str, target: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # tomllib says e.g. "Invalid value (at line 2, column 9)"; lead with the place.
        message = str(error)
        where = re.search(r"\s*\(at (line \d+, column \d+|end of document)\)", message)
        if where:
            message = f" at {where.group(1)}: {message[: where.start()] or 'invalid value'}"
        else:
            message = f": {message}"
        raise ConfigError(
            f"{target}: invalid TOML{message}; fix the file (it was not changed)"
        ) from None
    except RecursionError:  # absurdly nested arrays
        raise ConfigError(f"{target}: invalid TOML (nested too deeply)") from None


def _check_structure(cfg: ConfigFile, out: Output | None) -> None:
    """[profiles.NAME.SECTION] tables; unknown keys are warned about with a suggestion."""
    path = cfg.path

    def warn(text: str) -> None:
        if out is not None:
            out.warn(text)

    for top in cfg.data:
        if top != "profiles":
            warn(f"{path}: unknown top-level key {top!r} ignored (expected [profiles.NAME.…])")
    profiles = cfg.data.get("profiles", {})
    if not isinstance(profiles, dict):
        raise ConfigError(
            f"{path}: 'profiles' must be a table of profiles, e.g. [profiles.default.ewe]"
        )
    for name, profile in profiles.items():
        if not isinstance(profile, dict):
            raise ConfigError(
                f"{path}: profiles.{name} must be a table, e.g. [profiles.{name}.ewe]"
            )
        for section, table in profile.items():
            if section in SECTIONS and not isinstance(table, dict):
                raise ConfigError(
                    f"{path}: profiles.{name}.{section} must be a table of"
                    f" {section} settings, e.g. [profiles.{name}.{section}]"
                )
            if not isinstance(table, dict):
                hint = _nearest(section.replace("_", "."), KEYS)
                warn(_unknown(path, f"profiles.{name}.{section}", hint))
                continue
            if section not in SECTIONS:
                hint = _nearest(section, SECTIONS)
                hint = hint and f"[profiles.{name}.{hint}]"
                warn(_unknown(path, f"profiles.{name}.{section}", hint))
                continue
            for leaf in table:
                if f"{section}.{leaf}" not in KEYS:
                    hint = _nearest(f"{section}.{leaf}", KEYS)
                    warn(_unknown(path, f"profiles.{name}.{section}.{leaf}", hint))


def _unknown(path: Path, where: str, hint: str | None) -> str:
    suffix = f" (did you mean {hint}?)" if hint else ""
    return f"{path}: unknown key {where} ignored{suffix}"


def _warn_permissions(cfg: ConfigFile, out: Output) -> None:
    """On every read (SPEC §3): a file others can read, or a directory where others could
    replace it."""
    if os.name == "nt" or cfg.mode is None:
        return  # POSIX modes do not describe Windows ACLs
    if cfg.mode & 0o044:
        out.warn(f"{cfg.path} is readable by other users; run chmod 600 {cfg.path}")
    elif cfg.mode & 0o022:
        out.warn(f"{cfg.path} is writable by other users; run chmod 600 {cfg.path}")
    directory = Path(os.path.realpath(cfg.path)).parent
    try:
        mode = directory.stat().st_mode
    except OSError:
        return
    if _replaceable(mode):
        out.warn(
            f"directory {directory} is writable by other users (mode {stat.S_IMODE(mode):04o}),"
            f" who could replace {cfg.path}; run chmod 700 {directory}"
        )


def _replaceable(mode: int) -> bool:
    """A directory mode letting group/others rename or delete files they do not own."""
    return bool(mode & 0o022 and not mode & stat.S_ISVTX)


def _line_of(text: str, profile: str, spec: KeySpec) -> int | None:
    """The line of `leaf = …` under [profiles.PROFILE.SECTION], for the layout we write."""
    if not text:
        return None

    def part(name: str) -> str:
        return rf"""\s*(?:{re.escape(name)}|"{re.escape(name)}"|'{re.escape(name)}')\s*"""

    header = re.compile(rf"\s*\[{part('profiles')}\.{part(profile)}\.{part(spec.section)}\]\s*")
    assignment = re.compile(rf"""\s*(?:{re.escape(spec.leaf)}|"{re.escape(spec.leaf)}")\s*=""")
    inside = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("["):
            inside = bool(header.match(line.split("#", 1)[0]))
        elif inside and assignment.match(line):
            return number
    return None


# -- writing --------------------------------------------------------------------------------
def ensure_directory(directory: Path, out: Output | None = None) -> None:
    """Create DIRECTORY 0700; an existing one we did not create is only warned about."""
    try:
        directory.mkdir(parents=True, mode=0o700)
    except FileExistsError:
        pass
    except OSError as error:
        raise ConfigError(f"cannot create directory {directory}: {error.strerror}") from None
    else:
        with suppress(OSError):
            os.chmod(directory, 0o700)  # mkdir's mode is filtered by the umask
        return
    if not directory.is_dir():
        raise ConfigError(f"cannot write the config file: {directory} is not a directory")
    if os.name == "nt" or out is None:
        return
    mode = directory.stat().st_mode
    ours = directory == Path(os.path.realpath(default_path().parent))
    # Our own directory should be private; any other (e.g. --config ./x.toml) only must not
    # let others replace the file (group/other-writable without the sticky bit).
    if (ours and mode & 0o077) or _replaceable(mode):
        out.warn(
            f"directory {directory} is accessible by other users"
            f" (mode {stat.S_IMODE(mode):04o}); run chmod 700 {directory}"
        )


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); not possible on Windows."""
    if os.name == "nt":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An exclusive lock on the config directory, so read-modify-write never loses a change."""
    try:
        import fcntl
    except ImportError:  # Windows: the atomic rename still keeps the file whole
        yield
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        with suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def edit(path: Path | str | None = None, out: Output | None = None) -> Iterator[ConfigFile]:
    """Load the file under a lock, let the caller change it, save it atomically.

    A malformed file raises before anything is written, so it is never replaced.
    """
    target = config_path(path)
    directory = Path(os.path.realpath(target)).parent
    ensure_directory(directory, out)
    with _locked(directory):
        cfg = load(target, out, check_permissions=False)
        yield cfg
        old_mode = cfg.mode if cfg.exists else None
        cfg.save()
    if old_mode is not None and old_mode & 0o077 and out is not None and os.name != "nt":
        out.info(f"{cfg.path} is now mode 0600 (was {old_mode:04o})")
