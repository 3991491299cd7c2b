"""What each provider package declares about itself, and the one registry of them.

A provider (EWE, Fynd, Ecom) is one package, ``shipctl/<name>/``: its rules, client, simulator
and commands. Its ``__init__`` declares a ``PROVIDER`` — config keys, what ``--sandbox``
points at, and the modules of its hooks — and the core reads them here: config keys
(``shipctl.config``), sandbox settings and simulators (``shipctl.sandbox``), command groups
and top-level commands (``shipctl.commands.root``), credential checks (``shipctl.auth``).
Adding a provider is one line in ``PACKAGES``.

A hook is a module named in ``Provider``, imported only when the core needs it; the shape
each must have is a Protocol below (``SimulatorHook``, ``CommandsHook``,
``RootCommandsHook``, ``AuthCheckHook``), as a plugin interface declares its methods.
``tests/test_provider_hooks.py`` checks every declared module against its Protocol.

Imported on every invocation (TAB presses included): standard library only, and a provider's
``__init__`` must stay as light (no typer, requests or pydantic there).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, runtime_checkable

if TYPE_CHECKING:
    import typer

    from shipctl.app import Application
    from shipctl.sandbox.contract import Simulator

PACKAGES = ("shipctl.ewe", "shipctl.fynd", "shipctl.ecom")


@runtime_checkable
class SimulatorHook(Protocol):
    """``Provider.simulator``: this API's stand-in, served by ``--sandbox`` and ``shipctl
    sandbox`` (docs/conventions.md, Sandbox)."""

    def create(self) -> Simulator: ...


@runtime_checkable
class CommandsHook(Protocol):
    """``Provider.commands``: the ``shipctl <name> …`` command group, built when it is used."""

    group: typer.Typer


@runtime_checkable
class RootCommandsHook(Protocol):
    """``Provider.root_commands``: commands of this API's placed at the top (``shipctl
    digest``), as llm's ``register_commands``. Called while the root is assembled, before the
    core's own commands, so they are listed first."""

    def register_commands(self, root: typer.Typer) -> None: ...


@runtime_checkable
class AuthCheckHook(Protocol):
    """``Provider.auth_check``: the check ``shipctl auth check`` runs for this API."""

    # the settings that must be set for the profile to configure this API's credentials
    CREDENTIAL_KEYS: tuple[str, ...]

    def check(self, app: Application, *, timeout: float) -> tuple[str, str]:
        """("ok" | "refused" | "error", a one-line explanation); one request, no retry storm."""
        ...


# NamedTuples, not dataclasses: this module is imported on every invocation and TAB press,
# and a NamedTuple is several times cheaper to define (benchmarks/startup.py).
class KeySpec(NamedTuple):
    """One config key (docs/conventions.md, Configuration)."""

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
        """SHIPCTL_<SECTION>_<KEY>, e.g. SHIPCTL_FYND_CLIENT_SECRET."""
        return "SHIPCTL_" + self.name.upper().replace(".", "_")


class Provider(NamedTuple):
    name: str  # config section, command group and /_sandbox/stats key: "ewe"
    keys: tuple[KeySpec, ...]
    # The settings ``--sandbox`` overrides, given the sandbox's base URL: this API's URL
    # under it and the fixed sandbox credentials. Resolving any other key, as offline
    # commands do, never starts the sandbox.
    sandbox_settings: Callable[[str], dict[str, str]]
    # The hooks: modules of the shapes above, by name, so declaring them imports nothing.
    simulator: str | None = None  # SimulatorHook
    commands: str | None = None  # CommandsHook
    root_commands: str | None = None  # RootCommandsHook
    auth_check: str | None = None  # AuthCheckHook
    title: str = ""  # the API's name for people ("Fynd"); "" means name.upper() ("EWE")
    # The command group's help: its first line is what `shipctl --help` lists, read from
    # here so that the root's help imports no provider's commands.
    summary: str = ""

    @property
    def display_name(self) -> str:
        return self.title or self.name.upper()

    def simulator_hook(self) -> SimulatorHook | None:
        return _load(self.simulator)

    def commands_hook(self) -> CommandsHook | None:
        return _load(self.commands)

    def root_commands_hook(self) -> RootCommandsHook | None:
        return _load(self.root_commands)

    def auth_check_hook(self) -> AuthCheckHook | None:
        return _load(self.auth_check)


HOOKS = {"simulator": SimulatorHook, "commands": CommandsHook,
         "root_commands": RootCommandsHook, "auth_check": AuthCheckHook}


def _load(module: str | None) -> Any:
    return importlib.import_module(module) if module else None


@functools.cache
def providers() -> tuple[Provider, ...]:
    return tuple(importlib.import_module(package).PROVIDER for package in PACKAGES)


def display_name(name: str) -> str:
    """The API called ``name`` ("ecom") as people know it ("Ecom Express")."""
    for provider in providers():
        if provider.name == name:
            return provider.display_name
    return name.upper()


def fixed_sandbox(section: str, path: str, **credentials: str) -> Callable[[str], dict[str, str]]:
    """``Provider.sandbox_settings`` of an API served at the sandbox's base URL + ``path``
    with fixed credentials: ``{section}.url`` and ``{section}.<key>`` for each one given.
    The credentials are public, not secrets (docs/conventions.md, Sandbox): `shipctl
    sandbox` prints them."""

    def settings(base_url: str) -> dict[str, str]:
        fixed = {f"{section}.{key}": value for key, value in credentials.items()}
        return {f"{section}.url": base_url + path, **fixed}

    return settings


def sandbox_setting_keys() -> frozenset[str]:
    """Every key --sandbox overrides (the base URL does not change which keys they are)."""
    return frozenset(key for p in providers() for key in p.sandbox_settings(""))
