"""Host key checking for the SSH transport, OpenSSH style (imports paramiko).

`KnownHosts(spec)` reads the file before the handshake (to ask the server for a key
type we already know, as OpenSSH does) and `check()`s the key the server showed:

* a key listed for the host (plain, hashed `|1|...` or wildcard name) passes;
* a key listed as `@revoked` is refused;
* a host listed with other keys is a CHANGED key: always refused, naming the file
  and line to remove, even with trust_on_first_use;
* a host not listed is refused, unless `spec.trust_on_first_use`, which appends the
  key to the file (creating it and its folder, mode 0600/0700).

Names follow OpenSSH: `addr` on port 22, `[addr]:port` otherwise.
"""
from __future__ import annotations

import base64
import fnmatch
import hashlib
import os
import threading
from pathlib import Path

from paramiko.hostkeys import HostKeyEntry, HostKeys, InvalidHostKey

from grader.errors import HostKeyError
from grader.inventory import HostSpec

_WRITE_LOCK = threading.Lock()


class KnownHosts:
    """The known_hosts entries for one host."""

    def __init__(self, spec: HostSpec):
        self.spec = spec
        self.host = spec.role
        self.path = Path(os.path.expanduser(spec.known_hosts or "~/.ssh/known_hosts"))
        self.name = spec.address if spec.port == 22 else f"[{spec.address}]:{spec.port}"
        self.entries = self._read()

    def prefer_known_types(self, transport) -> None:
        """Ask the server for the host key type(s) already on file first."""
        wanted = []
        for _, key in self.entries:
            kind = key.get_name()
            wanted += ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"] if kind == "ssh-rsa" else [kind]
        opts = transport.get_security_options()
        available = list(opts.key_types)
        first = [k for k in dict.fromkeys(wanted) if k in available]
        if first:
            opts.key_types = first + [k for k in available if k not in first]

    def check(self, key) -> None:
        """Accept `key`, record it (trust on first use), or raise HostKeyError."""
        fp, path, name = f"{key.get_name()} {fingerprint(key)}", self.path, self.name
        for number, known in self.entries:
            if known.asbytes() == key.asbytes():
                if number < 0:
                    raise HostKeyError(self.host, f"the host key of {name} ({fp}) is marked @revoked in "
                                       f"{path}:{-number}; refusing to connect")
                return
        listed = [(n, k) for n, k in self.entries if n > 0]
        if listed:
            line = ([n for n, k in listed if k.get_name() == key.get_name()] or [listed[0][0]])[0]
            raise HostKeyError(
                self.host,
                f"HOST KEY CHANGED for {name}: it presented {fp}, but line {line} of {path} holds a different "
                f"key; someone may be intercepting the connection, or the host was rebuilt; refusing to connect",
                hint=f"if the host was rebuilt, remove line {line} of {path} (ssh-keygen -f {path} -R '{name}') "
                     f"and connect again; --trust-on-first-use never replaces a changed key")
        if not self.spec.trust_on_first_use:
            port = "" if self.spec.port == 22 else f" -p {self.spec.port}"
            raise HostKeyError(
                self.host, f"unknown host key for {name} ({fp}): it is not in {path}",
                hint=f"run with --trust-on-first-use to accept and record it, "
                     f"or add it with `ssh-keyscan{port} {self.spec.address} >> {path}`")
        self._record(key)

    def _record(self, key) -> None:
        with _WRITE_LOCK:
            try:
                self.entries = self._read()
                if any(k.asbytes() == key.asbytes() for _, k in self.entries):
                    return  # another thread recorded it meanwhile
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                with os.fdopen(fd, "a") as fh:
                    if fh.tell() > 0 and not self.path.read_bytes().endswith(b"\n"):
                        fh.write("\n")
                    fh.write(HostKeyEntry([self.name], key).to_line())
            except OSError as exc:
                raise HostKeyError(self.host, f"cannot record the host key of {self.name} in {self.path}: "
                                   f"{exc.strerror or exc}") from None

    def _read(self) -> list[tuple[int, object]]:
        """(line number, key) of every line for this host; negated on `@revoked` lines."""
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise HostKeyError(self.host, f"cannot read known hosts file {self.path}: {exc.strerror}") from None
        found = []
        for number, line in enumerate(lines, 1):
            line = line.strip()
            revoked = line.startswith("@revoked ")
            line = line.split(None, 1)[1].strip() if revoked else line
            if not line or line.startswith(("#", "@")):  # comments, @cert-authority
                continue
            try:
                entry = HostKeyEntry.from_line(line, number)
            except (InvalidHostKey, ValueError):
                continue
            if entry is not None and _matches(self.name, entry.hostnames):
                found.append((-number if revoked else number, entry.key))
        return found


def _matches(name: str, patterns) -> bool:
    for pattern in patterns:
        if pattern.startswith("|1|"):
            parts = pattern.split("|")
            try:
                if len(parts) == 4 and HostKeys.hash_host(name, parts[2]) == pattern:
                    return True
            except ValueError:  # bad base64 salt
                continue
        elif pattern == name or (("*" in pattern or "?" in pattern) and not pattern.startswith("!")
                                 and fnmatch.fnmatchcase(name, pattern)):
            return True
    return False


def fingerprint(key) -> str:
    """OpenSSH's SHA256:... fingerprint of a key."""
    return "SHA256:" + base64.b64encode(hashlib.sha256(key.asbytes()).digest()).decode().rstrip("=")
