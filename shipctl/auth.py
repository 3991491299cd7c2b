"""`shipctl auth check`: each provider that can check credentials is asked, in registry order.

A provider declares ``Provider.auth_check``, a ``provider.AuthCheckHook``: ``CREDENTIAL_KEYS``
(the settings that must be set for it to count as configured) and ``check(app, timeout=...)``
returning ("ok" | "refused" | "error", message). Providers whose credentials the profile does
not set are listed as not configured, not checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shipctl.app import Application


def check_profile(app: Application, *, timeout: float) -> int:
    from shipctl.errors import ConfigError, ExitCode
    from shipctl.provider import display_name, providers

    out = app.out
    results = []
    for provider in providers():
        module = provider.auth_check_hook()
        if module is None:
            continue
        missing = [key for key in module.CREDENTIAL_KEYS if app.setting(key).value in (None, "")]
        if missing:
            results.append({"api": provider.name, "status": "not_configured",
                            "message": f"not configured ({', '.join(missing)} not set)"})
            continue
        try:
            status, message = module.check(app, timeout=timeout)
        except ConfigError as error:  # e.g. a URL that is set but invalid
            status, message = "error", error.message
        results.append({"api": provider.name, "status": status, "message": message})

    checked = [r for r in results if r["status"] != "not_configured"]
    if out.json_mode:
        out.write_json({"profile": app.profile, "results": results})
    else:
        for result in results:
            shown = {"ok": "OK", "refused": "REFUSED", "error": "ERROR"}.get(
                result["status"], "-")
            out.print(f"{result['api']:<5} {shown:<8} {result['message']}")
    if not checked:
        out.warn(f"profile {app.profile!r} configures no API credentials to check")
        return int(ExitCode.USAGE)
    for result in checked:
        if result["status"] == "refused":
            out.warn(f"{display_name(result['api'])} refused the credentials of profile "
                     f"{app.profile!r}")
    return int(ExitCode.OK if all(r["status"] == "ok" for r in checked) else ExitCode.FAILED)
