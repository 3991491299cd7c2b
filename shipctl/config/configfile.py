"""The config file: read and checked (``load``), changed one key at a time and saved
(``edit``).

A file that cannot be parsed is reported with its line and column and never overwritten. What
`config set`/`unset` write is parsed again and must mean exactly the intended change, else the
file is left as it was.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipctl.config import store
from shipctl.config.keys import DEFAULT_PROFILE, KEYS, SECTIONS, key_spec, nearest
from shipctl.errors import ConfigError
from shipctl.provider import KeySpec

if TYPE_CHECKING:
    from shipctl.output import Output

# A config file is a few hundred bytes; anything this large is the wrong file.
MAX_BYTES = 1024 * 1024


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
        from shipctl.config import toml_edit

        spec = key_spec(key)
        self._change(key, lambda document: toml_edit.set_value(document, profile, spec, value))
        profiles = self.data.setdefault("profiles", {})
        profiles.setdefault(profile, {}).setdefault(spec.section, {})[spec.leaf] = value

    def unset(self, profile: str, key: str) -> bool:
        """Remove KEY from PROFILE; False when it was not there. The profile itself stays.

        A section left empty goes too, unless it holds comments (they are never dropped).
        """
        from shipctl.config import toml_edit

        spec = key_spec(key)
        section = self.data.get("profiles", {}).get(profile, {}).get(spec.section)
        if not section or spec.leaf not in section:
            return False
        removed = self._change(
            key, lambda document: toml_edit.unset_value(document, profile, spec)
        )
        del section[spec.leaf]
        if removed:
            del self.data["profiles"][profile][spec.section]
        return True

    def _change(self, key: str, change: Any) -> Any:
        from shipctl.config import toml_edit

        self._changed.append(key)
        if self._document is None:
            try:
                self._document = toml_edit.parse(self.text)
            except toml_edit.PARSE_ERRORS as error:
                raise self._cannot_keep(key, error) from None
        try:
            return change(self._document)
        except toml_edit.CHANGE_ERRORS as error:
            raise self._cannot_keep(key, error) from None

    def _cannot_keep(self, key: str, reason: object) -> ConfigError:
        return ConfigError(
            f"cannot change {key} in {self.path} while keeping the rest of the file as it is"
            f" ({reason or 'its layout'}); edit the file by hand (it was not changed)"
        )

    def _render(self) -> str:
        """The new text: the old one with only the changes made; checked by parsing it again."""
        if self._document is None:  # nothing changed
            return self.text
        from shipctl.config import toml_edit

        text = toml_edit.render(self._document, self.text)
        keys = ", ".join(dict.fromkeys(self._changed)) or "nothing"
        try:
            meaning = _parse(text, self.path)
        except ConfigError as error:
            raise self._cannot_keep(keys, error) from None
        if meaning != self.data:
            raise self._cannot_keep(keys, "the result would mean more than that change")
        return text

    def save(self) -> None:
        """Write atomically with mode 0600 (store.write_atomically)."""
        payload = self._render().encode("utf-8")
        store.write_atomically(self.path, payload)
        self.exists = True
        self.text = payload.decode("utf-8")
        self._document = None  # further changes start from the text as written
        self._changed.clear()
        self.mode = 0o600


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
    target = store.config_path(path)
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
        store.warn_permissions(cfg.path, cfg.mode, out)
    return cfg


@contextmanager
def edit(path: Path | str | None = None, out: Output | None = None) -> Iterator[ConfigFile]:
    """Load the file under a lock, let the caller change it, save it atomically.

    A malformed file raises before anything is written, so it is never replaced.
    """
    target = store.config_path(path)
    directory = Path(os.path.realpath(target)).parent
    store.ensure_directory(directory, out)
    with store.locked(directory):
        cfg = load(target, out, check_permissions=False)
        yield cfg
        old_mode = cfg.mode if cfg.exists else None
        cfg.save()
    if old_mode is not None and old_mode & 0o077 and out is not None and os.name != "nt":
        out.info(f"{cfg.path} is now mode 0600 (was {old_mode:04o})")


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
            _check_section(path, name, section, table, warn)


def _check_section(path: Path, name: str, section: str, table: Any, warn: Any) -> None:
    """One [profiles.NAME.SECTION]: a known section must be a table; the rest is warned of."""
    if section in SECTIONS and not isinstance(table, dict):
        raise ConfigError(
            f"{path}: profiles.{name}.{section} must be a table of"
            f" {section} settings, e.g. [profiles.{name}.{section}]"
        )
    if not isinstance(table, dict):
        hint = nearest(section.replace("_", "."), KEYS)
        warn(_unknown(path, f"profiles.{name}.{section}", hint))
        return
    if section not in SECTIONS:
        hint = nearest(section, SECTIONS)
        hint = hint and f"[profiles.{name}.{hint}]"
        warn(_unknown(path, f"profiles.{name}.{section}", hint))
        return
    for leaf in table:
        if f"{section}.{leaf}" not in KEYS:
            hint = nearest(f"{section}.{leaf}", KEYS)
            warn(_unknown(path, f"profiles.{name}.{section}.{leaf}", hint))


def _unknown(path: Path, where: str, hint: str | None) -> str:
    suffix = f" (did you mean {hint}?)" if hint else ""
    return f"{path}: unknown key {where} ignored{suffix}"


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
