"""Which hosts exist and how to reach them.

Resolution order (first that applies wins):
  1. the --inventory FILE flag;
  2. the GRADER_INVENTORY environment variable;
  3. ./grader-inventory.yaml in the working folder;
  4. the built-in killercoda layout: controlplane is this machine (local), node01 is
     `ssh root@node01` with the user's keys and ~/.ssh/known_hosts.

Tasks name hosts by role (`controlplane`, `node01`); the inventory maps each role to a
transport and to the Kubernetes node name the role has in that cluster.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from grader.errors import InventoryError, PackError

# The transports by name: "module:function" opening one, function(spec, inventory, jump) ->
# Transport (grader.transport.connect imports the module only when a host uses it).  Adding
# a transport is one entry here and its own module under grader/transport/.
TRANSPORTS = {"local": "grader.transport.local:open_transport",
              "ssh": "grader.transport.ssh:open_transport",
              "docker": "grader.transport.docker:open_transport"}
HOST_KEYS = {"transport", "address", "port", "user", "key", "known_hosts", "trust_on_first_use",
             "jump", "container", "docker", "node", "connect_timeout", "ip"}
TOP_KEYS = {"hosts", "kube_host", "kubectl", "kubeconfig", "name"}
DEFAULT_FILE = "grader-inventory.yaml"
ENV_VAR = "GRADER_INVENTORY"


@dataclass(frozen=True)
class HostSpec:
    role: str                       # name tasks use: controlplane, node01, ...
    transport: str = "local"        # local | ssh | docker
    address: str | None = None      # ssh: name or IP to connect to
    port: int = 22
    user: str = "root"
    key: str | None = None          # ssh: private key file; None = agent / ~/.ssh/id_*
    known_hosts: str | None = None  # ssh: file; None = ~/.ssh/known_hosts
    trust_on_first_use: bool = False  # ssh: accept (and record) an unknown host key
    jump: str | None = None         # ssh: role of a host to jump through
    container: str | None = None    # docker: container name
    docker: str | None = None       # docker: DOCKER_HOST value (e.g. unix:///run/x.sock)
    node: str | None = None         # Kubernetes node name (default: the role)
    ip: str | None = None           # the host's own address, for templates (default: address)
    connect_timeout: float = 10.0

    @property
    def node_name(self) -> str:
        return self.node or self.role

    def facts(self) -> dict:
        """What task templates see of this host: hosts.<role>.name/node/ip."""
        return {"name": self.role, "node": self.node_name, "ip": self.ip or self.address or ""}


@dataclass(frozen=True)
class Inventory:
    hosts: dict[str, HostSpec]
    kube_host: str = "controlplane"
    kubectl: str = "kubectl"           # command used for kube checks on the kube host
    kubeconfig: str | None = None      # passed as --kubeconfig when set
    source: str = "built-in killercoda layout"
    name: str = "default"

    def host(self, role: str, *, where: str = "") -> HostSpec:
        try:
            return self.hosts[role]
        except KeyError:
            known = ", ".join(sorted(self.hosts))
            place = f"{where}: " if where else ""
            raise InventoryError(f"{place}unknown host '{role}' (inventory {self.source} has: {known})") from None

    def facts(self) -> dict:
        return {role: spec.facts() for role, spec in self.hosts.items()}

    def with_trust_on_first_use(self) -> "Inventory":
        hosts = {r: replace(h, trust_on_first_use=True) for r, h in self.hosts.items()}
        return replace(self, hosts=hosts)


def killercoda_default() -> Inventory:
    return Inventory(
        hosts={
            "controlplane": HostSpec(role="controlplane", transport="local", ip="172.30.1.2"),
            "node01": HostSpec(role="node01", transport="ssh", address="node01", ip="172.30.2.2"),
        },
        kube_host="controlplane",
    )


def resolve(flag: str | None = None, *, cwd: Path | None = None, env=None) -> Inventory:
    """Find and load the inventory following the documented resolution order."""
    path = locate(flag, cwd=cwd, env=env)
    return killercoda_default() if path is None else load(path)


def locate(flag: str | None = None, *, cwd: Path | None = None, env=None) -> Path | None:
    """The inventory file the resolution order picks; None for the built-in layout."""
    env = os.environ if env is None else env
    if flag:
        return Path(flag)
    if env.get(ENV_VAR):
        return Path(env[ENV_VAR])
    local = (cwd or Path.cwd()) / DEFAULT_FILE
    return local if local.is_file() else None


def load(path: Path) -> Inventory:
    """Read an inventory file with the packs' strict YAML loader: a duplicate key is an
    error with its line, as in a pack, not a silent last-one-wins."""
    from grader.packs.yamlsrc import parse_yaml     # PyYAML: only when an inventory file is read

    try:
        text = path.read_text()
    except OSError as exc:
        raise InventoryError(f"{path}: cannot read inventory: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise InventoryError(f"{path}: cannot read inventory: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        data = parse_yaml(text, file=str(path))
    except PackError as exc:             # "FILE:LINE: not valid YAML: ...", as before
        raise InventoryError(exc.message) from None
    return parse(data, source=str(path))


def parse(data, *, source: str) -> Inventory:
    if not isinstance(data, dict):
        raise InventoryError(f"{source}: an inventory is a mapping with a 'hosts' key")
    _unknown(data, TOP_KEYS, source, "")
    hosts_data = data.get("hosts")
    if not isinstance(hosts_data, dict) or not hosts_data:
        raise InventoryError(f"{source}: hosts: a mapping of at least one host role to its settings")
    hosts = {role: _host(str(role), spec, source) for role, spec in hosts_data.items()}
    kube_host = str(data.get("kube_host", "controlplane" if "controlplane" in hosts else next(iter(hosts))))
    if kube_host not in hosts:
        raise InventoryError(f"{source}: kube_host: '{kube_host}' is not one of the hosts ({', '.join(hosts)})")
    for h in hosts.values():
        if h.jump and h.jump not in hosts:
            raise InventoryError(f"{source}: hosts.{h.role}.jump: unknown host '{h.jump}'")
    inventory = Inventory(hosts=hosts, kube_host=kube_host, kubectl=str(data.get("kubectl", "kubectl")),
                          kubeconfig=data.get("kubeconfig"), source=source, name=str(data.get("name", source)))
    for h in hosts.values():  # refuse loops and non-ssh hops now, not when a host is first used
        check_jump_chain(inventory, h)
    return inventory


def check_jump_chain(inventory: Inventory, spec: HostSpec) -> None:
    """Refuse the jump chain that starts at `spec` if it loops, if a host that is not
    an ssh host uses a jump host, or if it goes through a host that is not an ssh host.

    `parse()` checks every host with it; `grader.transport` checks again before
    connecting, since an Inventory can also be built in code."""
    seen = [spec.role]
    while spec.jump:
        where = f"{inventory.source}: hosts.{spec.role}.jump"
        if spec.transport != "ssh":
            raise InventoryError(f"{where}: only ssh hosts can use a jump host")
        nxt = inventory.host(spec.jump, where=where)
        if nxt.transport != "ssh":
            raise InventoryError(f"{where}: '{nxt.role}' is a {nxt.transport} host; a jump host must be an ssh host")
        if nxt.role in seen:
            raise InventoryError(f"{where}: jump hosts form a loop: {' -> '.join(seen + [nxt.role])}")
        seen.append(nxt.role)
        spec = nxt


def _host(role: str, spec, source: str) -> HostSpec:
    where = f"hosts.{role}"
    if spec is None:
        spec = {}
    if not isinstance(spec, dict):
        raise InventoryError(f"{source}: {where}: expected a mapping of settings")
    _unknown(spec, HOST_KEYS, source, where + ".")
    transport = spec.get("transport", "ssh" if spec.get("address") else "local")
    if transport not in TRANSPORTS:
        raise InventoryError(f"{source}: {where}.transport: '{transport}' is not one of {', '.join(TRANSPORTS)}")
    if transport == "ssh" and not spec.get("address"):
        raise InventoryError(f"{source}: {where}.address: an ssh host needs an address")
    if transport == "docker" and not spec.get("container"):
        raise InventoryError(f"{source}: {where}.container: a docker host needs a container name")
    try:
        port = int(spec.get("port", 22))
        timeout = float(spec.get("connect_timeout", 10.0))
    except (TypeError, ValueError):
        raise InventoryError(f"{source}: {where}: port and connect_timeout must be numbers") from None
    def opt(key):
        value = spec.get(key)
        return None if value is None else str(value)
    return HostSpec(role=role, transport=transport, address=opt("address"), port=port,
                    user=str(spec.get("user", "root")), key=opt("key"), known_hosts=opt("known_hosts"),
                    trust_on_first_use=bool(spec.get("trust_on_first_use", False)), jump=opt("jump"),
                    container=opt("container"), docker=opt("docker"), node=opt("node"), ip=opt("ip"),
                    connect_timeout=timeout)


def _unknown(data: dict, allowed: set, source: str, prefix: str) -> None:
    import difflib

    for key in data:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise InventoryError(f"{source}: {prefix}{key}: unknown key{hint}")
