"""Profiles, settings and credentials (docs/conventions.md, Configuration).

One TOML file per user (``platformdirs.user_config_dir("shipctl")/config.toml``, or
``--config`` / ``SHIPCTL_CONFIG``), one table per profile and API section::

    [profiles.default.ewe]
    username = "test"
    password = "123456"

- ``keys``: what can be set (each provider declares its keys) and the values each accepts;
- ``resolve``: which value a key has — flag, sandbox, environment, profile, default;
- ``configfile``: the file read, checked and changed (``load``, ``edit``);
- ``toml_edit``: one value changed, the rest of a hand-edited file kept byte for byte;
- ``store``: where the file lives; atomic 0600 writes in a 0700 directory, under a lock.

Start-up and TAB completion read the config on most commands, so only the standard library is
imported here: tomllib (reading), tomlkit (``toml_edit``) and platformdirs are imported where
they are used.
"""

from shipctl.config.configfile import MAX_BYTES, ConfigFile, edit, load, missing_file_error
from shipctl.config.keys import (
    DEFAULT_PROFILE,
    KEYS,
    PROFILE_NAME,
    SECTIONS,
    check_profile_name,
    key_spec,
    parse_value,
)
from shipctl.config.resolve import Setting, missing_error, resolve
from shipctl.config.store import FILE_NAME, config_path, default_path, ensure_directory
from shipctl.provider import KeySpec

__all__ = [
    "DEFAULT_PROFILE",
    "FILE_NAME",
    "KEYS",
    "MAX_BYTES",
    "PROFILE_NAME",
    "SECTIONS",
    "ConfigFile",
    "KeySpec",
    "Setting",
    "check_profile_name",
    "config_path",
    "default_path",
    "edit",
    "ensure_directory",
    "key_spec",
    "load",
    "missing_error",
    "missing_file_error",
    "parse_value",
    "resolve",
]
