"""The one object passed to every command (``ctx.obj``): global options, output, settings.

Commands ask it for settings (``app.setting("ewe.password")``) and it applies the precedence
flag > sandbox > environment > profile in the config file > built-in default, starting the
embedded sandbox on first use when ``--sandbox`` was given.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipctl.output import Output

if TYPE_CHECKING:
    from shipctl.config import ConfigFile, Setting


@dataclass
class Application:
    profile: str = "default"
    config_path: Path | None = None  # --config / SHIPCTL_CONFIG; None = per-user file
    sandbox: bool = False
    debug: bool = False
    out: Output = field(default_factory=Output)
    # Values that outrank environment and file (the sandbox's URLs and credentials).
    overrides: dict[str, Any] = field(default_factory=dict)
    _config: ConfigFile | None = None
    _sandbox_server: Any = None

    def use(
        self, *, profile: str | None = None, json_mode: bool = False, show_secrets: bool = False
    ) -> None:
        """Apply a command's own --profile / -o json / --show-secrets."""
        if profile:
            self.profile = profile
        self.out.json_mode = json_mode
        self.out.show_secrets = show_secrets

    # -- config -------------------------------------------------------------------------------
    @property
    def config(self) -> ConfigFile:
        if self._config is None:
            from shipctl import config

            self._config = config.load(
                self.config_path, out=self.out, must_exist=self.config_origin
            )
        return self._config

    @property
    def config_origin(self) -> str | None:
        """Where an explicitly chosen config file came from: "--config", "SHIPCTL_CONFIG",
        or None for the per-user file (which may be missing: nothing is set yet)."""
        if self.config_path is None or str(self.config_path) == "":
            return None
        env = os.environ.get("SHIPCTL_CONFIG")
        if env and Path(os.path.expanduser(env)).absolute() == Path(
            os.path.expanduser(str(self.config_path))
        ).absolute():
            return "SHIPCTL_CONFIG"
        return "--config"

    def setting(self, key: str, flag: Any = None) -> Setting:
        """Resolve one config key for the active profile (secrets are registered for redaction)."""
        from shipctl import config

        if self.sandbox and self._sandbox_server is None:
            from shipctl.provider import sandbox_setting_keys

            if key in sandbox_setting_keys():
                self.ensure_sandbox()
        return config.resolve(
            self.config, self.profile, key, flag=flag, overrides=self.overrides
        )

    def require(self, key: str, flag: Any = None) -> Any:
        """Like ``setting`` but a missing value is a ConfigError naming the key and env var."""
        from shipctl import config

        resolved = self.setting(key, flag)
        if resolved.value in (None, ""):
            raise config.missing_error(key, self.profile, self.config.path)
        return resolved.value

    # -- sandbox ------------------------------------------------------------------------------
    def ensure_sandbox(self) -> None:
        if not self.sandbox or self._sandbox_server is not None:
            return
        from shipctl.sandbox import start_background

        self._sandbox_server = start_background()
        self.overrides.update(self._sandbox_server.settings())
        self.out.info(f"sandbox: simulator listening on {self._sandbox_server.base_url}")

    def close(self) -> None:
        if self._sandbox_server is not None:
            self._sandbox_server.stop()
            self._sandbox_server = None


def get_app(ctx: Any) -> Application:
    """The Application of a (sub)command's click context."""
    obj = ctx.find_root().obj
    if obj is None:  # invoked without the root callback (tests calling a sub-app directly)
        obj = ctx.find_root().obj = Application()
    return obj
