"""Which value a key has, and where it came from.

Highest first: command-line flag → the sandbox's values (``--sandbox``) → environment
``SHIPCTL_<SECTION>_<KEY>`` → the profile in the file → the built-in default
(docs/conventions.md, Configuration). An empty value counts as not given at every level, so an
empty ``SHIPCTL_EWE_URL=`` in a cron environment does not blank out the default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipctl import secrets
from shipctl.config.keys import DEFAULT_PROFILE, convert, key_spec
from shipctl.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from shipctl.config.configfile import ConfigFile
    from shipctl.provider import KeySpec


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


def _found(spec: KeySpec, raw: Any, source: str, error: type[Exception], where: str,
           of: str = "") -> Setting:
    """RAW converted to KEY's type, or ERROR naming WHERE it was given; secrets registered."""
    if spec.secret and isinstance(raw, str):
        secrets.register(raw)  # before anything could print it
    try:
        value = convert(spec, raw)
    except ValueError as problem:
        raise error(f"{where}: {spec.name}{of} {problem}") from None
    if spec.secret:
        secrets.register(value)
    return Setting(spec.name, value, source, spec.secret)


def resolve(
    cfg: ConfigFile,
    profile: str,
    key: str,
    *,
    flag: Any = None,
    overrides: dict[str, Any] | None = None,
) -> Setting:
    """KEY for PROFILE by the precedence above; every secret returned is registered."""
    spec = key_spec(key)
    if _given(flag):
        return _found(spec, flag, "flag", UsageError, "command line")
    if overrides and _given(overrides.get(spec.name)):
        return _found(spec, overrides[spec.name], "sandbox", ConfigError, "sandbox")
    env = os.environ.get(spec.env)
    if _given(env):
        return _found(spec, env, spec.env, ConfigError, spec.env)
    raw = cfg.raw(profile, spec)
    if _given(raw):
        where = cfg.location(profile, spec)
        setting = _found(spec, raw, str(cfg.path), ConfigError, where, f" (profile {profile!r})")
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
