"""Running the portal: bound before anything is announced, served by one process or by
``workers`` processes under a small supervisor (``faceledger serve --workers N``).

Example::

    listener = bind_listener("127.0.0.1", 8000)   # ConfigError "port 8000 on 127.0.0.1 is in use"
    supervise(settings, listener, workers=4)        # until SIGTERM / Ctrl+C

Binding first, in the parent, is what makes a busy port an error *before* the "portal on ..."
line, with no window between a check and the real bind. With several workers on Linux (where
``SO_REUSEPORT`` exists) the parent's socket is bound with ``SO_REUSEPORT`` but never listens:
it holds the port, and each worker binds and listens on a socket of its own beside it, so the
kernel spreads new connections evenly over the workers. (One shared listening socket lets
whichever worker wakes first take each connection: under load one worker held twice the
connections of the other, and a kept-alive connection stays where it landed.) Elsewhere the
workers share the parent's listening socket. The workers are spawned processes; each opens its
own ledger connections and builds its own app. What they must agree on is not in their memory:
the rate limiter and the anonymous audit budget are rows of the ledger (``web.ratelimit``),
console sessions are ledger rows, and the signing secret is one setting or key file
(``web.keys``). A worker that exits after it started is replaced; one that cannot start stops
the portal (exit 1), since the others would fail the same way.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import multiprocessing
import os
import signal
import socket
import sys
from multiprocessing.connection import wait
from typing import TYPE_CHECKING, Any

from faceledger.errors import ConfigError, FaceledgerError

if TYPE_CHECKING:
    from faceledger.config import Settings

logger = logging.getLogger(__name__)
BACKLOG = 2048
STOP_TIMEOUT = 30.0  # seconds a worker gets to finish its requests after SIGTERM


def uvicorn_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """How the portal is served: forwarded headers are believed only from the proxies named in
    ``web_trusted_proxies`` (none by default; uvicorn alone would trust loopback), no server
    header, and not uvicorn's access log (it would hold client addresses and search queries:
    ``web.accesslog`` writes one without them)."""
    proxies = [p.strip() for p in settings.web_trusted_proxies if p.strip()]
    return {
        "host": host, "port": port, "log_level": "warning", "access_log": False,
        "server_header": False, "proxy_headers": bool(proxies),
        "forwarded_allow_ips": ",".join(proxies) if proxies else "",
    }  # fmt: skip


#: Whether workers can each listen on the port (Linux >= 3.9; not on every platform).
REUSE_PORT = hasattr(socket, "SO_REUSEPORT")


def bind_listener(host: str, port: int, *, workers: int = 1) -> socket.socket:
    """A TCP socket on ``host``:``port`` for ``workers`` processes; :class:`ConfigError`
    (exit 2) naming the port and address when it is in use, not ours to take, or not an
    address of this machine. One worker, or no :data:`REUSE_PORT`: a listening socket. More
    where :data:`REUSE_PORT`: the port is first bound alone (so that a portal already serving
    there with ``SO_REUSEPORT`` is "in use", not joined), then bound with ``SO_REUSEPORT``
    without listening: it holds the port while each worker listens beside it
    (:func:`worker_listener`)."""
    if workers > 1 and REUSE_PORT:
        alone = _bound(host, port, reuse_port=False, listen=False)
        port = alone.getsockname()[1]  # the one port 0 chose
        alone.close()
        return _bound(host, port, reuse_port=True, listen=False)
    return _bound(host, port, reuse_port=False, listen=True)


def worker_listener(parent: socket.socket) -> socket.socket:
    """The socket a worker serves on: the parent's when it listens (shared by all), else one
    of the worker's own, bound with ``SO_REUSEPORT`` to the parent's address and listening."""
    if parent.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        return parent
    host, port = parent.getsockname()[:2]
    return _bound(host, port, reuse_port=True, listen=True)


def _bound(host: str, port: int, *, reuse_port: bool, listen: bool) -> socket.socket:
    address = host or "0.0.0.0"
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_REUSEADDR, 1
        )  # TIME_WAIT only, never a listener
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6 and address == "::":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((address, port))
        if listen:
            sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        where = f"port {port} on {host or '0.0.0.0'}"
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"{where} is in use: stop what listens there, or choose another with --port"
            ) from None
        if exc.errno == errno.EACCES:
            raise ConfigError(
                f"cannot listen on {where}: permission denied (ports below 1024 need privileges)"
            ) from None
        if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or isinstance(
            exc, socket.gaierror
        ):
            raise ConfigError(
                f"cannot listen on {where}: {host!r} is not an address of this machine"
            ) from None
        raise ConfigError(f"cannot listen on {where}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def with_access_log(app: Any, settings: Settings) -> Any:
    """``app`` wrapped in the access log the ``web_access_log`` setting names (or as is)."""
    from faceledger.web.accesslog import AccessLog, AccessLogSink

    sink = AccessLogSink.open(settings.web_access_log)
    return app if sink is None else AccessLog(app, sink=sink, routes=app)


def run_server(app: Any, settings: Settings, listener: socket.socket) -> None:
    """Serve ``app`` on ``listener`` in this process until SIGINT / SIGTERM."""
    import uvicorn

    host, port = listener.getsockname()[:2]
    config = uvicorn.Config(with_access_log(app, settings), **uvicorn_options(settings, host, port))
    uvicorn.Server(config).run(sockets=[listener])


def _worker_main(settings: Settings, listener: socket.socket, ready: Any) -> None:
    """One spawned portal process: its own ledger connections and app, and the socket
    :func:`worker_listener` gives it (its own, or the parent's shared one). When the
    supervisor ends, even by SIGKILL, the worker stops as on SIGTERM (requests in progress are
    finished), so no worker outlives it holding the port."""
    from faceledger.engines.local import watch_parent

    watch_parent(lambda: os.kill(os.getpid(), signal.SIGTERM))
    from faceledger.services.oversight.audit import (
        checkpoints_path,
        finish_checkpoint,
        install_checkpoints,
    )
    from faceledger.store import open_ledger
    from faceledger.web import create_app

    try:
        listener = worker_listener(listener)
        ledger = open_ledger(settings.database_url)  # made and migrated by the parent already
        install_checkpoints(
            ledger, checkpoints_path(settings), every=settings.audit_checkpoint_every
        )
        app = create_app(settings, ledger=ledger)
    except FaceledgerError as exc:
        sys.stderr.write(f"faceledger serve: error: {exc}\n")
        sys.exit(exc.exit_code)
    ready.set()
    try:
        run_server(app, settings, listener)
    finally:
        try:
            finish_checkpoint(ledger, checkpoints_path(settings))
        except FaceledgerError as exc:
            sys.stderr.write(f"faceledger serve: audit checkpoint not taken: {exc}\n")
        ledger.dispose()


def supervise(settings: Settings, listener: socket.socket, workers: int) -> int:
    """Run ``workers`` portal processes on ``listener`` until SIGINT / SIGTERM (exit code 0),
    replacing any that exits after it started; 1 if one could not start."""
    context = multiprocessing.get_context("spawn")
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)

    def on_signal(_signum: int, _frame: Any) -> None:
        with contextlib.suppress(BlockingIOError):  # already woken
            os.write(wake_write, b"x")

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    running: list[tuple[Any, Any]] = []

    def start() -> None:
        ready = context.Event()
        process = context.Process(
            target=_worker_main, args=(settings, listener, ready),
            name="faceledger-portal",
        )  # fmt: skip
        process.start()
        running.append((process, ready))

    code = 0
    try:
        for _ in range(workers):
            start()
        while code == 0:
            by_sentinel = {process.sentinel: (process, ready) for process, ready in running}
            fired = wait([wake_read, *by_sentinel])
            if wake_read in fired:
                break
            for sentinel in fired:
                process, ready = by_sentinel[sentinel]
                running.remove((process, ready))
                process.join()
                if not ready.is_set():
                    sys.stderr.write(
                        f"faceledger serve: a portal process could not start (exit code {process.exitcode}); stopping\n"
                    )
                    code = 1
                    break
                sys.stderr.write(
                    f"faceledger serve: portal process {process.pid} exited (code {process.exitcode}); starting another\n"
                )
                start()
    finally:
        for process, _ready in running:
            if process.is_alive():
                process.terminate()  # uvicorn: finish the open requests, run the shutdown hooks
        for process, _ready in running:
            process.join(STOP_TIMEOUT)
            if process.is_alive():
                process.kill()
                process.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(wake_read)
        os.close(wake_write)
        listener.close()
    return code
