"""The session of one run, and the prepared requests it sends.

One ``requests.Session`` per run: our User-Agent, TLS verification always on (``--ca-bundle``
adds a CA to the default ones), no ~/.netrc, no urllib3 retries, a connection pool as large as
``--jobs`` whose connections bound each whole answer by ``--timeout``. ``prepare`` turns a
``Call`` into the exact request the session sends; the dry run prints that same object
(``shipctl.http.show``).
"""

from __future__ import annotations

import os
import ssl
import tempfile
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from shipctl.errors import UsageError
from shipctl.http.answer import Adapter
from shipctl.http.options import USER_AGENT, Call, HttpOptions, check_options
from shipctl.loopback import is_loopback


def _no_netrc(request: requests.PreparedRequest) -> requests.PreparedRequest:
    # With no session auth, requests would apply ~/.netrc credentials and overwrite the
    # Authorization header the caller built from the profile (docs/conventions.md,
    # Configuration: the profile outranks the environment).
    return request


def make_session(options: HttpOptions, *, pool_size: int = 10) -> requests.Session:
    """A session for one run: our User-Agent, TLS verification on, a pool for ``--jobs``.

    Raises UsageError when ``options`` cannot work (``check_options``) or the CA bundle is
    unusable: the caller makes the session before sending anything.
    """
    check_options(options)
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    session.auth = _no_netrc
    # max_retries=0: the retry loop in send() is the only one, so attempts are counted,
    # logged and paced in one place (urllib3's own retries would hide them). Its connections
    # bound each whole answer by the read timeout (shipctl.http.answer).
    adapter = Adapter(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    if options.ca_bundle is not None:
        path = _combined_ca_bundle(Path(options.ca_bundle))
        session.verify = path
        # The combined file lives as long as the session (or the process) and no longer.
        weakref.finalize(session, _unlink_quietly, path)
    else:
        session.verify = True
    return session


def _default_ca_file() -> str:
    """The CA file requests uses without --ca-bundle: REQUESTS_CA_BUNDLE, else certifi's."""
    import certifi

    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # requests' own order
        value = os.environ.get(name)
        if value and os.path.isfile(value):
            return value
    return certifi.where()


def _combined_ca_bundle(user_file: Path) -> str:
    """The default CAs plus the user's, in a private temp file: --ca-bundle *adds*
    (docs/conventions.md, HTTP behaviour)."""
    name = f"--ca-bundle {user_file}"
    try:
        data = user_file.read_bytes()
    except IsADirectoryError:
        raise UsageError(f"{name}: is a directory, not a PEM file") from None
    except OSError as exc:
        raise UsageError(f"{name}: cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = ""
    problem = None
    if "-----BEGIN CERTIFICATE-----" not in text:
        problem = "no PEM certificate in it"
    else:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cadata=text)
        except (ssl.SSLError, ValueError) as exc:
            problem = f"not a valid PEM certificate ({getattr(exc, 'reason', None) or exc})"
    if problem:
        raise UsageError(
            f"{name}: {problem}",
            hint="give a PEM file (-----BEGIN CERTIFICATE-----); convert DER with "
            "`openssl x509 -inform der -in FILE -out FILE.pem`",
        )
    base = Path(_default_ca_file()).read_text(encoding="utf-8", errors="replace")
    fd, path = tempfile.mkstemp(prefix="shipctl-ca-", suffix=".pem")  # mode 0600
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(base.rstrip("\n") + "\n\n# --ca-bundle " + str(user_file) + "\n")
        handle.write(text.rstrip("\n") + "\n")
    return path


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


_TEMPLATES_MAX = 64


def prepare(session: requests.Session, call: Call) -> requests.PreparedRequest:
    """The request ``session`` sends for ``call``: its headers merged in, Content-Length set.

    Raises requests.RequestException or ValueError for a URL or header value that cannot be
    sent.

    A copy of a cached template with the body swapped in: Session.prepare_request merges
    session headers, cookies and hooks through generic machinery, and a bulk run sends
    thousands of requests that differ only in their body, so that work is done once per
    method, URL and headers (benchmarks/ewe_throughput.py measures what that saves).
    """
    if len(session.cookies):  # a server set cookies: they must ride along, so no template
        return session.prepare_request(
            requests.Request(call.method, call.url, headers=call.headers, data=call.body)
        )
    templates: dict[Any, requests.PreparedRequest] = session.__dict__.setdefault(
        "_shipctl_templates", {}
    )
    key = (call.method, call.url, tuple(sorted(call.headers.items())), call.body is None)
    template = templates.get(key)
    if template is None:
        if len(templates) >= _TEMPLATES_MAX:
            templates.clear()
        template = session.prepare_request(
            requests.Request(call.method, call.url, headers=call.headers,
                             data=None if call.body is None else b"-")
        )
        templates[key] = template
    prepared = template.copy()
    if call.body is not None:
        prepared.body = call.body
        prepared.headers["Content-Length"] = str(len(call.body))
    return prepared


def environment_settings(session: requests.Session, url: str) -> dict[str, Any]:
    """Proxies and CA settings from the environment, as ``session.request`` would use them,
    and ``stream=True``.

    verify=session.verify: otherwise REQUESTS_CA_BUNDLE would replace the --ca-bundle file
    (requests lets the environment outrank the session's own setting).

    Worked out once per origin: requests re-reads every environment variable twice per
    request to find proxies, and a bulk run talks to one origin (benchmarks/ewe_throughput.py
    measures what that saves).
    """
    cache: dict[tuple[str, str], dict[str, Any]] = session.__dict__.setdefault(
        "_shipctl_environment", {}
    )
    origin = urlsplit(url)[:2]
    settings = cache.get(origin)
    if settings is None:
        # stream=True: answers are read by shipctl.http.answer.read_answer, within bounds.
        settings = session.merge_environment_settings(url, {}, True, session.verify, None)
        cache[origin] = settings
    return settings


# -- plain http warning ---------------------------------------------------------------------

# Hosts already warned about in this process (one warning, not one per item:
# docs/conventions.md, HTTP behaviour).
_warned_hosts: set[str] = set()
_warned_lock = threading.Lock()


def warn_plain_http(url: str, *, sends_credentials: bool, warn: Callable[[str], None]) -> None:
    """Warn once per host when credentials would cross the network unencrypted."""
    if not sends_credentials:
        return
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return
    if parts.scheme != "http" or not host or is_loopback(host):
        return
    with _warned_lock:
        if host in _warned_hosts:
            return
        _warned_hosts.add(host)
    warn(f"sending credentials over plain http:// to {host}; use https://")
