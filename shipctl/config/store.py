"""Where the config file lives and how it is written: atomically (temp file in the same
directory, fsync, rename), mode 0600 in a 0700 directory, under a lock so that two concurrent
`config set` never lose a change (docs/conventions.md, Configuration)."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

from shipctl.errors import ConfigError

if TYPE_CHECKING:
    from shipctl.output import Output

FILE_NAME = "config.toml"


def default_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_config_dir("shipctl")) / FILE_NAME


def config_path(path: Path | str | None) -> Path:
    """The file a command uses: --config / SHIPCTL_CONFIG, else the per-user one; absolute."""
    if path is None or str(path) == "":
        return default_path()
    return Path(os.path.expanduser(str(path))).absolute()


def replaceable(mode: int) -> bool:
    """A directory mode letting group/others rename or delete files they do not own."""
    return bool(mode & 0o022 and not mode & stat.S_ISVTX)


def warn_permissions(path: Path, mode: int | None, out: Output) -> None:
    """On every read: a file others can read, or a directory where others could replace it."""
    if os.name == "nt" or mode is None:
        return  # POSIX modes do not describe Windows ACLs
    if mode & 0o044:
        out.warn(f"{path} is readable by other users; run chmod 600 {path}")
    elif mode & 0o022:
        out.warn(f"{path} is writable by other users; run chmod 600 {path}")
    directory = Path(os.path.realpath(path)).parent
    try:
        directory_mode = directory.stat().st_mode
    except OSError:
        return
    if replaceable(directory_mode):
        out.warn(
            f"directory {directory} is writable by other users"
            f" (mode {stat.S_IMODE(directory_mode):04o}), who could replace {path};"
            f" run chmod 700 {directory}"
        )


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
    if (ours and mode & 0o077) or replaceable(mode):
        out.warn(
            f"directory {directory} is accessible by other users"
            f" (mode {stat.S_IMODE(mode):04o}); run chmod 700 {directory}"
        )


def write_atomically(path: Path, payload: bytes) -> None:
    """PAYLOAD as the whole of PATH, mode 0600: temp file beside it, fsync, rename; on any
    failure the file is as it was. A symlink (dotfile managers) is written through, not
    replaced."""
    real = Path(os.path.realpath(path))
    ensure_directory(real.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".tmp", dir=real.parent)
    except OSError as error:
        raise ConfigError(f"cannot write {path}: {error.strerror}") from None
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
            f"cannot write {path}: {error.strerror or error}; the file was not changed"
        ) from None
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(real.parent)


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
def locked(directory: Path) -> Iterator[None]:
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
