"""How `byline search` finds a running `byline serve` for the same index, and asks it.

The server writes a small JSON file ({pid, host, port, index, token}) under the user's runtime
folder ($XDG_RUNTIME_DIR/byline, else ~/.cache/byline/servers), named after a hash of the index's
real path, never inside the index folder (an index may be read-only), and removes it on shutdown.
A file whose process is gone, or whose server does not answer, is ignored (and a dead one removed).
Only the standard library is used here, and of it http.client rather than urllib.request (which
also imports ssl and a proxy machinery a loopback request never needs), so a search through a
server starts in milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path


def servers_dir() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "byline"
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "byline" / "servers"


def server_file(index_root: Path) -> Path:
    key = hashlib.sha256(str(Path(index_root).resolve()).encode()).hexdigest()[:20]
    return servers_dir() / f"{key}.json"


@dataclass(frozen=True)
class ServerInfo:
    pid: int
    host: str
    port: int
    index: str
    token: str | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def announce(index_root: Path, host: str, port: int, token: str | None) -> Path:
    """Write the server file (readable by the user only: it may hold the token)."""
    path = server_file(index_root)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"pid": os.getpid(), "host": host, "port": port, "index": str(Path(index_root).resolve()),
                   "token": token}, fh)
    os.replace(tmp, path)
    return path


def withdraw(index_root: Path) -> None:
    """Remove the server file, if it is this process's."""
    path = server_file(index_root)
    info = _read(path)
    if info is not None and info.pid == os.getpid():
        path.unlink(missing_ok=True)


def _read(path: Path) -> ServerInfo | None:
    try:
        data = json.loads(path.read_text())
        return ServerInfo(int(data["pid"]), str(data["host"]), int(data["port"]), str(data["index"]),
                          data.get("token"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find(index_root: Path) -> ServerInfo | None:
    """The server announced for this index, when its process is still alive."""
    path = server_file(index_root)
    info = _read(path)
    if info is None:
        return None
    if info.index != str(Path(index_root).resolve()):
        return None
    if not _alive(info.pid):
        path.unlink(missing_ok=True)  # a server that died without cleaning up
        return None
    return info


class ServerError(Exception):
    """The server answered with an error; `status` and `message` say which."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def post(info: ServerInfo, path: str, body: dict, timeout: float = 60.0) -> dict:
    """POST JSON to the server. OSError when it cannot be reached; ServerError on an error reply."""
    import http.client

    headers = {"Content-Type": "application/json"}
    if info.token:
        headers["Authorization"] = f"Bearer {info.token}"
    connection = http.client.HTTPConnection(info.host, info.port, timeout=timeout)  # never a proxy
    try:
        connection.request("POST", path, json.dumps(body).encode(), headers)
        reply = connection.getresponse()
        data = reply.read()
    except http.client.HTTPException as exc:  # not HTTP on that port: as if no server were there
        raise OSError(f"no HTTP reply from {info.url}: {exc}") from None
    finally:
        connection.close()
    if reply.status >= 400:
        try:
            message = json.loads(data).get("error", reply.reason)
        except (ValueError, AttributeError):
            message = f"HTTP {reply.status} {reply.reason}"
        raise ServerError(reply.status, message)
    return json.loads(data)
