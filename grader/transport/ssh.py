"""SSH transport through paramiko: one persistent connection per host.

Importing this module imports paramiko; `grader.transport.connect()` does so only
when an ssh host is used, so the CLI starts fast.

Over 400 lines: one paramiko connection's whole life (connect with its timeouts, jump hosts,
host keys, keepalives, a channel per command, reading both streams against the deadline,
reconnecting once) is one state machine; split, its halves would share most of its state.

* One paramiko Transport (one TCP connection) per host, reused by every `run()`;
  each command gets its own session channel, at most MAX_SESSIONS at once.
* `connect_timeout` bounds the TCP connect, the handshake, the login, opening a
  channel and the host's answer to the request that starts the command (a host
  that opens the channel but never starts the command raises ConnectionLost); SSH
  keepalives every KEEPALIVE seconds.
* A connection found dead *between* commands is re-opened once per call; a drop
  *during* a command raises ConnectionLost with the partial output (the command
  may or may not have finished, so it is never re-run).
* Host keys are checked against `HostSpec.known_hosts` (default ~/.ssh/known_hosts,
  hashed entries understood).  An unknown key is refused unless
  `trust_on_first_use`, which accepts and records it; a changed key is always
  refused, naming the file and line to remove.
* Login with `HostSpec.key` only when set, else ssh-agent keys, then
  ~/.ssh/id_ed25519, id_ecdsa, id_rsa.  `HostSpec.jump` tunnels through another
  ssh host with a direct-tcpip channel.
* The command runs as `bash -c <command>` under the far side's `timeout -s KILL`
  (`local.remote_command`), so a timed-out command is killed on the host.  Output is
  read as it arrives into capped sinks (`base.Capture`); past a sink's deadline: HostStalled.
"""
from __future__ import annotations

import logging
import os
import select
import socket
import sys
import threading
import time

if "invoke" not in sys.modules:     # paramiko.config imports invoke (a third of paramiko's import
    sys.modules["invoke"] = None    # time) for ssh_config's `Match exec` only, which grader never reads
    try:
        import paramiko
    finally:
        del sys.modules["invoke"]
else:
    import paramiko
from paramiko.common import cMSG_CHANNEL_REQUEST

from grader.errors import AuthError, CommandTimedOut, ConnectError, ConnectionLost, HostStalled, InventoryError
from grader.inventory import HostSpec
from grader.transport.base import Capture, CommandResult, Transport, result_of, stall_deadline
from grader.transport.common import CHUNK, DRAIN_IDLE, remote_command
from grader.transport.known_hosts import KnownHosts, fingerprint

# paramiko logs handshake failures at ERROR; without a handler Python would print
# them on stderr next to our one-line message.  With GRADER_DEBUG=1 (the CLI logs at
# DEBUG to stderr) they are wanted.
if not os.environ.get("GRADER_DEBUG"):
    logging.getLogger("paramiko").addHandler(logging.NullHandler())

KEEPALIVE = 15          # seconds between SSH keepalives on an idle connection
MAX_SESSIONS = 8        # concurrent commands per connection
KILL_GRACE = 3.0        # after the deadline, time for the far-side kill to show
SIGNALLED = 255         # exit code when the far shell died by a signal (as OpenSSH's ssh)
DEFAULT_KEYS = ("id_ed25519", "id_ecdsa", "id_rsa")
UP_HINT = "is the host up? check `grader lab status`, and the address and port in the inventory"
_CHANNEL_ERRORS = (paramiko.SSHException, EOFError, OSError)


class SSHTransport(Transport):
    """Runs commands on one host over one reused SSH connection.  Thread-safe.

    `jump` is the transport of the host to tunnel through (owned, i.e. closed with
    this one, when `owns_jump`).  The connection opens on `open()` or on the
    first `run()`.  `connects` counts the connections made (1 + reconnects).
    """

    def __init__(self, spec: HostSpec, *, jump: "SSHTransport | None" = None, owns_jump: bool = False):
        super().__init__(spec.role)
        self.spec = spec
        self.connects = 0
        self._jump, self._owns_jump = jump, owns_jump
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(MAX_SESSIONS)
        self._t: paramiko.Transport | None = None

    # --- connection -------------------------------------------------------

    @property
    def paramiko_transport(self) -> "paramiko.Transport | None":
        """The current underlying connection (for tests and diagnostics)."""
        return self._t

    @property
    def where(self) -> str:
        return f"{self.spec.address}:{self.spec.port}" + (f" via {self._jump.host}" if self._jump else "")

    def open(self) -> "SSHTransport":
        """Connect now (if not connected) so errors surface early."""
        self._live()
        return self

    def close(self) -> None:
        with self._lock:
            t, self._t = self._t, None
        if t is not None:
            t.close()
        if self._jump is not None and self._owns_jump:
            self._jump.close()

    def _live(self, dead=None) -> tuple["paramiko.Transport", bool]:
        """The connection and whether it is new: (re)connects when there is none, it
        has dropped, or it is `dead` (failed for the caller; unless another thread
        already replaced it)."""
        with self._lock:
            if self._t is not None and self._t is not dead and self._t.is_active():
                return self._t, False
            self._connect_locked()
            return self._t, True

    def _connect_locked(self) -> None:
        old, self._t = self._t, None
        if old is not None:
            old.close()
        spec, timeout = self.spec, self.spec.connect_timeout
        known = KnownHosts(spec)
        sock = self._socket()
        t = paramiko.Transport(sock)
        try:
            t.banner_timeout = t.handshake_timeout = timeout
            t.auth_timeout = max(timeout, 10.0)
            known.prefer_known_types(t)
            done = threading.Event()
            t.start_client(event=done)
            if not done.wait(timeout):
                raise ConnectError(self.host, f"no SSH answer from {self.where} within {timeout:g}s", hint=UP_HINT)
            if not t.is_active():
                exc = t.get_exception()
                raise ConnectError(self.host, f"SSH handshake with {self.where} failed: {_describe(exc)}",
                                   hint=UP_HINT)
            known.check(t.get_remote_server_key())
            self._authenticate(t)
            t.set_keepalive(KEEPALIVE)
        except BaseException:
            t.close()
            raise
        self._t = t
        self.connects += 1

    def _socket(self):
        address, port, timeout = self.spec.address, self.spec.port, self.spec.connect_timeout
        if self._jump is not None:
            return self._jump.open_tunnel(address, port, timeout=timeout, for_host=self.host)
        try:
            sock = socket.create_connection((address, port), timeout=timeout)
        except socket.timeout:
            raise ConnectError(self.host, f"no answer from {address}:{port} within {timeout:g}s", hint=UP_HINT) from None
        except ConnectionRefusedError:
            raise ConnectError(self.host, f"connection refused by {address}:{port} (no SSH server listening)",
                               hint=UP_HINT) from None
        except socket.gaierror as exc:
            raise ConnectError(self.host, f"cannot resolve '{address}': {exc.strerror}",
                               hint="check the address in the inventory") from None
        except OSError as exc:
            raise ConnectError(self.host, f"cannot connect to {address}:{port}: {exc.strerror or exc}",
                               hint=UP_HINT) from None
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle delay on small packets
        return sock

    def open_tunnel(self, address: str, port: int, *, timeout: float, for_host: str):
        """A direct-tcpip channel from this host to address:port (jump-host use).
        Reconnects this host once if its connection has dropped."""
        t, fresh = self._live()
        for attempt in (1, 2):
            try:
                return t.open_channel("direct-tcpip", (address, port), ("127.0.0.1", 0), timeout=timeout)
            except paramiko.ChannelException as exc:
                raise ConnectError(for_host, f"jump host {self.host} could not reach {address}:{port}: {exc.text}",
                                   hint=UP_HINT) from None
            except _CHANNEL_ERRORS as exc:
                if fresh or attempt == 2:
                    raise ConnectError(for_host, f"jump host {self.host} lost its connection: {_describe(exc)}",
                                       hint=UP_HINT) from None
                t, fresh = self._live(dead=t)
        raise AssertionError("unreachable")  # pragma: no cover

    # --- login ------------------------------------------------------------

    def _authenticate(self, t) -> None:
        agent = None
        if not self.spec.key:
            try:
                agent = paramiko.Agent()
            except paramiko.SSHException:  # a broken SSH_AUTH_SOCK: go on without it
                pass
        try:
            self._login(t, agent)
        finally:
            if agent is not None:
                agent.close()

    def _login(self, t, agent) -> None:
        user = self.spec.user
        who = f"{user}@{self.spec.address}"
        keys, skipped = self._keys(agent)
        if not keys:
            extra = f" (skipped: {'; '.join(skipped)})" if skipped else ""
            raise AuthError(self.host, f"no key to log in as {who}{extra}",
                            hint="set key: in the inventory, load a key into ssh-agent, or create ~/.ssh/id_ed25519")
        tried = []
        for label, key in keys:
            try:
                t.auth_publickey(user, key)
            except paramiko.BadAuthenticationType as exc:
                raise AuthError(self.host, f"{who} does not accept key logins (it allows: "
                                f"{', '.join(exc.allowed_types) or 'nothing'})") from None
            except paramiko.AuthenticationException:
                tried.append(label)
                continue
            except _CHANNEL_ERRORS as exc:
                if not t.is_active() and tried:
                    break  # some servers hang up after too many failed keys
                raise ConnectError(self.host, f"connection to {self.where} dropped during login: {_describe(exc)}",
                                   hint=UP_HINT) from None
            if t.is_authenticated():
                return
            tried.append(f"{label} (server wants more than a key)")
        raise AuthError(self.host, f"{who} refused key {', '.join(tried)}",
                        hint=f"is the matching public key in ~{user}/.ssh/authorized_keys on {self.host}?")

    def _keys(self, agent):
        """[(label, key)] to offer, and why other keys could not be used."""
        if self.spec.key:
            path = os.path.expanduser(self.spec.key)
            if not os.path.exists(path):
                raise AuthError(self.host, f"key file {path} not found", hint="check key: in the inventory")
            key, problem = _load_key(path)
            if key is None:
                raise AuthError(self.host, f"key {path} {problem}",
                                hint="load it into ssh-agent and remove key: from the inventory")
            return [(path, key)], []
        keys = [(f"agent key {k.get_name()} {fingerprint(k)}", k) for k in (agent.get_keys() if agent else ())]
        skipped = []
        for path in (os.path.expanduser(f"~/.ssh/{name}") for name in DEFAULT_KEYS):
            if os.path.exists(path):
                key, problem = _load_key(path)
                keys.append((path, key)) if key else skipped.append(f"{path} {problem}")
        return keys, skipped

    # --- commands ---------------------------------------------------------

    def run(self, command: str, *, timeout: float, stdin: bytes | None = None,
            stdout=None, stderr=None) -> CommandResult:
        start = time.monotonic()
        deadline = start + timeout
        sinks = (Capture() if stdout is None else stdout, Capture() if stderr is None else stderr)
        with self._slots:
            chan = self._session()
            try:
                return self._run_on(chan, command, timeout, stdin, start, deadline, sinks)
            finally:
                chan.close()

    def _session(self):
        """A new session channel, reconnecting once if the connection has dropped."""
        t, fresh = self._live()
        while True:
            try:
                return t.open_session(timeout=self.spec.connect_timeout)
            except paramiko.ChannelException as exc:
                raise ConnectError(self.host, f"{self.where} refused a session: {exc.text}") from None
            except _CHANNEL_ERRORS as exc:
                if fresh:
                    raise ConnectionLost(self.host, f"connection to {self.where} dropped right after connecting: "
                                         f"{_describe(exc)}", hint=UP_HINT) from None
                t, fresh = self._live(dead=t)

    def _run_on(self, chan, command, timeout, stdin, start, deadline, sinks) -> CommandResult:
        out, err = sinks

        def result(code: int) -> CommandResult:
            return result_of(self.host, command, code, out, err, time.monotonic() - start)

        wait = self.spec.connect_timeout
        try:
            started = _exec(chan, remote_command(command, timeout), wait)
        except _CHANNEL_ERRORS as exc:
            raise ConnectionLost(self.host, f"connection dropped while starting the command: {_describe(exc)}",
                                 partial=result(-1), hint=UP_HINT) from None
        if not started:
            chan.close()
            raise ConnectionLost(self.host, f"{self.where} opened a session but did not start the command within "
                                 f"{wait:g}s: {_short(command)}", partial=None,
                                 hint="the host may be frozen or overloaded; the command may or may not have "
                                      "started; " + UP_HINT)
        if stdin:
            threading.Thread(target=_feed, args=(chan, stdin), daemon=True,
                             name=f"grader-ssh-stdin-{self.host}").start()
        else:
            _feed(chan, b"")
        fd = chan.fileno()
        exited_at = ended_at = None
        last_data = start
        while True:
            now = time.monotonic()
            if _read(chan, out, err):
                last_data = now
            if chan.eof_received or chan.closed:
                _read(chan, out, err)
                ended_at = now
                break
            if exited_at is None and chan.exit_status_ready():
                exited_at = now
            if exited_at is not None and (now - max(last_data, exited_at) >= DRAIN_IDLE or now >= deadline):
                break  # exited, but a background child holds the output open
            if now >= deadline + KILL_GRACE:
                break
            stall = stall_deadline(out, err)
            if exited_at is None and stall is not None and now >= stall:
                raise HostStalled(self.host, command, partial=result(-1))
            select.select([fd], [], [], min(0.1, max(deadline + KILL_GRACE - now, 0.01)))
        if exited_at is None:
            # EOF usually comes with (or right after) the exit status
            chan.status_event.wait(max(min(deadline + KILL_GRACE, time.monotonic() + 2.0) - time.monotonic(), 0))
            if chan.exit_status_ready() and chan.exit_status != -1:
                exited_at = ended_at or time.monotonic()
        code = chan.exit_status if chan.exit_status_ready() else -1
        if exited_at is not None and code != -1:
            if exited_at > deadline:
                raise CommandTimedOut(self.host, command, timeout, partial=result(-1))
            return result(code)
        if chan.closed and _stays_active(chan.get_transport()):
            # the far shell itself was killed by a signal (e.g. `pkill -f` matching its
            # own command line): sshd sends exit-signal, which paramiko drops
            return result(SIGNALLED)
        if chan.closed or not chan.get_transport().is_active():
            raise ConnectionLost(self.host, f"connection dropped while running: {_short(command)}",
                                 partial=result(-1), hint="the command may or may not have finished; " + UP_HINT)
        raise CommandTimedOut(self.host, command, timeout, partial=result(-1))

    def __repr__(self) -> str:
        return f"SSHTransport({self.host!r}, {self.spec.user}@{self.where})"


def _load_key(path: str):
    """(key, None) or (None, why it cannot be used)."""
    try:
        return paramiko.PKey.from_path(path), None
    except (paramiko.PasswordRequiredException, TypeError):  # TypeError: new-format encrypted key
        return None, "is protected by a passphrase"
    except (paramiko.SSHException, OSError, ValueError) as exc:
        return None, f"cannot be loaded: {exc}"


def _exec(chan, command: str, wait: float) -> bool:
    """`chan.exec_command(command)`, but waiting at most `wait` seconds for the host's
    answer: False if none came (paramiko's own call waits forever).  Raises like
    exec_command when the host refuses or the channel closes.  This repeats what
    Channel.exec_command does (paramiko 3.x to 5.x) with a bounded wait on the
    channel's reply event."""
    if chan.closed or chan.eof_received or chan.eof_sent or not chan.active:  # as paramiko's @open_only
        raise paramiko.SSHException("Channel is not open")
    m = paramiko.Message()
    m.add_byte(cMSG_CHANNEL_REQUEST)
    m.add_int(chan.remote_chanid)
    m.add_string("exec")
    m.add_boolean(True)
    m.add_string(command)
    chan._event_pending()
    chan.transport._send_user_message(m)
    if not chan.event.wait(wait):
        return False
    if chan.event_ready:
        return True
    raise chan.transport.get_exception() or paramiko.SSHException("Channel closed.")


def _stays_active(t, wait: float = 0.3) -> bool:
    """True if `t` is still up after `wait`: a dropped connection closes its channels
    an instant before it marks itself inactive."""
    end = time.monotonic() + wait
    while t.is_active():
        if time.monotonic() >= end:
            return True
        time.sleep(0.02)
    return False


def _feed(chan, data: bytes) -> None:
    """Write stdin then EOF; a channel that closed meanwhile is the reader's problem."""
    try:
        if data:
            chan.sendall(data)
        chan.shutdown_write()
    except _CHANNEL_ERRORS:
        pass


def _read(chan, out, err) -> bool:
    """Take what has arrived on both streams into their sinks; True if anything did."""
    got = False
    for ready, recv, buf in ((chan.recv_ready, chan.recv, out), (chan.recv_stderr_ready, chan.recv_stderr, err)):
        while ready():
            data = recv(CHUNK)
            if not data:
                break
            buf.write(data)
            got = True
    return got


def _describe(exc) -> str:
    if exc is None or isinstance(exc, EOFError):
        return "the server closed the connection"
    return str(exc) or type(exc).__name__


def _short(command: str) -> str:
    return command if len(command) <= 60 else command[:57] + "..."


def open_transport(spec, inventory, jump=None) -> SSHTransport:
    """The registry's opener (grader.inventory.TRANSPORTS): connects now.  For a host with
    `spec.jump`, `jump` is that jump host's open transport to reuse; without it, one is
    opened here and closed together with the returned transport."""
    via, owns = None, False
    if spec.jump:
        via = jump
        if via is None:
            via, owns = open_transport(inventory.host(spec.jump), inventory), True   # an ssh host too (check_jump_chain)
        elif not isinstance(via, SSHTransport):
            raise InventoryError(f"{inventory.source}: hosts.{spec.role}.jump: '{spec.jump}' is not an ssh host")
    transport = SSHTransport(spec, jump=via, owns_jump=owns)
    try:
        return transport.open()
    except BaseException:
        if owns:
            via.close()
        raise
