"""Writing files atomically: a reader sees the old file or the new one, never half of one,
and no temporary file is left behind, even when the writer is killed.

:func:`atomic_write` is used by ``nn.save``, the dataset downloads and every picture ``viz``
writes. How it works:

- On Linux the data goes into an *unnamed* file in the target's folder
  (``open(folder, O_TMPFILE)``), which the kernel deletes by itself if the process dies;
  once written and fsynced it gets a name (``linkat`` through ``/proc/self/fd``) and is
  renamed over the target (``os.replace``, atomic).
- Elsewhere (or on a file system without ``O_TMPFILE``) it is an ordinary temporary file
  ``.NAME.stepgrad-PID-XXXX.tmp`` beside the target. A killed writer can leave one behind,
  so every save first deletes the temporaries in its folder whose writer process ``PID`` is
  gone. (On Linux the same clean-up covers the microseconds between naming the file and
  renaming it.)
"""
from __future__ import annotations

import errno
import os
import re
import secrets
import sys
from pathlib import Path

__all__ = ["atomic_write", "publish_mode", "remove_stale_temporaries"]

_TAG = ".stepgrad-"
_TEMP_NAME = re.compile(r"^\..*\.stepgrad-(\d+)-[0-9a-f]+\.tmp$")


def atomic_write(path, write, *, who: str = "save") -> Path:
    """Call ``write(tmp)`` with the path of a new empty file, then put that file at ``path``.

    ``write`` opens ``tmp`` itself (``open(tmp, "wb")``, ``fig.savefig(tmp, ...)``,
    ``np.save(tmp, ...)``); on Linux ``tmp`` is ``/proc/self/fd/N``, an unnamed file, so it
    has no suffix: pass the format explicitly. When ``write`` returns, the data is fsynced
    and moved into place atomically, with the permissions a plain ``open()`` gives (and,
    as ``open()``, through a symbolic link: the link's target is replaced). On any
    exception (or Ctrl-C) the old file at ``path`` is untouched and no temporary remains.
    ``OSError``\\ s name ``path`` (not the temporary file); ``who`` starts their message.
    Missing parent folders are created. Returns ``path`` as a ``Path``.

    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "hello.txt"
    >>> def write(tmp):
    ...     with open(tmp, "w") as f:
    ...         f.write("hello")
    >>> atomic_write(target, write).read_text(), [p.name for p in target.parent.iterdir()]
    ('hello', ['hello.txt'])
    """
    path = Path(path)
    # A symbolic link is written through, as open() does (and torch.save): the new file
    # replaces the link's target, and the link stays (renaming over the link would replace
    # the link itself and leave the target stale).
    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        directory = str(target.parent)
        remove_stale_temporaries(directory)
        fd = _open_unnamed(directory)
        if fd is None or not _write_unnamed(target, directory, fd, write):
            _write_named(target, directory, write)
        _fsync_dir(directory)
    except OSError as e:
        if e.errno is None:  # e.g. OSError("disk full") from a callback: keep it as it is
            raise
        # The temporary file's name means nothing to the caller: name the target instead.
        raise OSError(e.errno, f"{who}: cannot write {path}: {e.strerror}", str(path)) \
            from None
    return path


def _open_unnamed(directory: str):
    """An fd of an unnamed file in ``directory`` (Linux O_TMPFILE), or None where impossible."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        # 0o666: the umask applies, as for open(); O_TMPFILE files start with no name.
        fd = os.open(directory, flag | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as e:
        if e.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
            return None  # this file system (or kernel) has no O_TMPFILE: use a named file
        raise
    return fd


def _temp_name(path: Path) -> str:
    return str(path.parent / f".{path.name}{_TAG}{os.getpid()}-{secrets.token_hex(4)}.tmp")


def _write_unnamed(path: Path, directory: str, fd: int, write) -> bool:
    """Write through the unnamed file ``fd`` and move it to ``path``. False (nothing
    written at ``path``) when the kernel will not give it a name: then use a named file."""
    named = None
    try:
        write(f"/proc/self/fd/{fd}")
        os.fsync(fd)
        named = _temp_name(path)
        # linkat(AT_SYMLINK_FOLLOW) gives the unnamed file a name; Python uses linkat (not
        # link, which would try to link the /proc symlink itself) when a dir fd is given.
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.link(f"/proc/self/fd/{fd}", named, src_dir_fd=dir_fd, follow_symlinks=True)
        except OSError as e:
            if e.errno in (errno.EXDEV, errno.ENOENT, errno.EPERM, errno.EACCES,
                           errno.EOPNOTSUPP, errno.EINVAL):
                named = None  # a sandbox or file system that refuses: nothing was created
                return False
            raise
        finally:
            os.close(dir_fd)
        os.replace(named, path)
        named = None
        return True
    finally:
        os.close(fd)
        if named is not None:
            _unlink_quietly(named)


def _write_named(path: Path, directory: str, write) -> None:
    tmp = _temp_name(path)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        write(tmp)
        publish_mode(tmp)  # 0600 while being written; the usual mode once it is in place
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def remove_stale_temporaries(directory) -> list[str]:
    """Delete the ``.NAME.stepgrad-PID-XXXX.tmp`` files in ``directory`` whose writer (the
    process ``PID`` on this machine) no longer runs. Returns the names deleted."""
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        m = _TEMP_NAME.match(name)
        if m and not _pid_alive(int(m.group(1))):
            if _unlink_quietly(os.path.join(directory, name)):
                removed.append(name)
    return removed


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name == "posix":
        try:
            os.kill(pid, 0)  # signal 0: only asks whether the process exists
        except ProcessLookupError:
            return False
        except (PermissionError, OverflowError):
            return True  # it exists (another user's), or a pid we cannot ask about
        return True
    if sys.platform == "win32":  # os.kill(pid, 0) would send Ctrl-C on Windows
        import ctypes
        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        try:
            code = ctypes.c_ulong()
            kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    return True  # unknown platform: never delete what might be in use


def _unlink_quietly(path) -> bool:
    try:
        os.unlink(path)
        return True
    except OSError:
        return False


def _umask():
    mask = os.umask(0o022)  # the only portable way to read it is to set it
    os.umask(mask)
    return mask


def publish_mode(path) -> None:
    """Give a private temporary file (mode 0600) the mode a plain ``open()`` would, before
    it is renamed into place: other users can read what we write, as usual."""
    os.chmod(path, 0o666 & ~_umask())


def _fsync_dir(directory):
    """Make the rename itself durable (POSIX); not possible on every platform."""
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
