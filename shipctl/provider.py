"""What each provider package declares about itself, and the one registry of them.

A provider (EWE, Fynd, Ecom) is one package, ``shipctl/<name>/``: its rules, client, simulator
and commands. Its ``__init__`` declares a ``PROVIDER`` — config keys, what ``--sandbox``
points at, where its simulator and commands live — and the core reads them here: config keys
(``shipctl.config``), sandbox settings and simulators (``shipctl.sandbox``), command groups
(``shipctl.commands.root``). Adding a provider is one line in ``PACKAGES``.

Imported on every invocation (TAB presses included): standard library only, and a provider's
``__init__`` must stay as light (no typer, requests or pydantic there).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import NamedTuple

PACKAGES = ("shipctl.ewe", "shipctl.fynd", "shipctl.ecom")


# NamedTuples, not dataclasses: this module is imported on every invocation and TAB press,
# and a frozen dataclass costs ~0.8 ms to define against ~0.1 ms (benchmarks/startup.py).
class KeySpec(NamedTuple):
    """One config key (SPEC §3)."""

    name: str  # "<section>.<key>", e.g. "ewe.password"
    help: str  # shown by TAB completion (zsh, fish, PowerShell) beside the key
    secret: bool = False
    default: object = None
    type: str = "str"  # str | url | float (finite, ≥ 0) | path (a file)

    @property
    def section(self) -> str:
        return self.name.split(".", 1)[0]

    @property
    def leaf(self) -> str:
        return self.name.split(".", 1)[1]

    @property
    def env(self) -> str:
        """SPEC §3: SHIPCTL_<SECTION>_<KEY>, e.g. SHIPCTL_FYND_CLIENT_SECRET."""
        return "SHIPCTL_" + self.name.upper().replace(".", "_")


class Provider(NamedTuple):
    name: str  # config section, command group and /_sandbox/stats key: "ewe"
    keys: tuple[KeySpec, ...]
    # The settings ``--sandbox`` overrides, given the sandbox's base URL: this API's URL
    # under it and the fixed sandbox credentials (SPEC §8). Resolving any other key, as
    # offline commands do, never starts the sandbox.
    sandbox_settings: Callable[[str], dict[str, str]]
    simulator: str | None = None  # module with create() -> sandbox.Simulator
    commands: str | None = None  # module whose ``group`` is this API's typer command group
    # module with CREDENTIAL_KEYS and check(app, timeout=...) for `shipctl auth check`
    auth_check: str | None = None
    title: str = ""  # the API's name for people ("Fynd"); "" means name.upper() ("EWE")

    @property
    def display_name(self) -> str:
        return self.title or self.name.upper()


@functools.cache
def providers() -> tuple[Provider, ...]:
    return tuple(importlib.import_module(package).PROVIDER for package in PACKAGES)


def display_name(name: str) -> str:
    """The API called ``name`` ("ecom") as people know it ("Ecom Express")."""
    for provider in providers():
        if provider.name == name:
            return provider.display_name
    return name.upper()


def sandbox_setting_keys() -> frozenset[str]:
    """Every key --sandbox overrides (the base URL does not change which keys they are)."""
    return frozenset(key for p in providers() for key in p.sandbox_settings(""))
