"""What can be configured: the keys each provider declares, profile names, and the values a
key accepts (docs/conventions.md, Configuration)."""

from __future__ import annotations

import math
import os
import re
from typing import Any

from shipctl.errors import UsageError
from shipctl.provider import KeySpec, providers

DEFAULT_PROFILE = "default"
# Profile names are typed in shells and offered by TAB completion: keep them plain.
PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

# Completion and `config show` list the keys in the order of the provider registry.
KEYS: dict[str, KeySpec] = {spec.name: spec for p in providers() for spec in p.keys}
SECTIONS = tuple(dict.fromkeys(spec.section for spec in KEYS.values()))


def key_spec(key: str) -> KeySpec:
    """The spec of KEY, or a UsageError suggesting the nearest known key."""
    spec = KEYS.get(key)
    if spec is not None:
        return spec
    suggestion = nearest(key, KEYS)
    if suggestion:
        raise UsageError(f"unknown config key {key!r} (did you mean {suggestion}?)")
    raise UsageError(f"unknown config key {key!r} (keys: {', '.join(KEYS)})")


def nearest(word: str, choices: Any) -> str | None:
    from shipctl.suggest import nearest

    return nearest(word, choices)


def check_profile_name(name: str) -> str:
    if not PROFILE_NAME.fullmatch(name):
        raise UsageError(
            f"invalid profile name {name!r}: use letters, digits, '-', '_' and '.'"
            " (at most 64 characters, starting with a letter or digit)"
        )
    return name


def convert(spec: KeySpec, raw: Any) -> Any:
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
        value = convert(spec, text)
    except ValueError as error:
        raise UsageError(f"{spec.name} {error}") from None
    if spec.type == "path":
        # Relative to where the user typed it, not to wherever cron later runs us.
        value = os.path.abspath(os.path.expanduser(value))
    return value
