"""`grader lab up|down|status [--docker]`: the local two-host lab (see docs/lab.md)."""
from __future__ import annotations

import sys

HELP = """\
The local lab: killercoda's two hosts, controlplane (172.30.1.2) and node01 (172.30.2.2),
each in its own network, UTS, mount and PID namespace with its own sshd, on this machine.
Needs root.  `lab up` prints the path of the lab's inventory on stdout, so:

  export GRADER_INVENTORY=$(grader lab up)

--docker works on the docker variant instead: a private dockerd with two kind-like
containers, grader-control-plane and grader-worker, reached by the docker transport.
"""


def register(subparsers) -> None:
    import argparse

    parser = subparsers.add_parser("lab", help="bring the local two-host practice lab up or down",
                                   description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="lab_command", metavar="ACTION", parser_class=type(parser))
    for name, func, text in (("up", _up, "build the lab (does nothing if it is already up); prints the inventory path"),
                             ("down", _down, "remove everything `lab up` created (safe to run twice)"),
                             ("status", _status, "show each host and whether it answers (exit 3 if not all do)")):
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--docker", action="store_true", help="the docker variant (kind-like containers)")
        p.add_argument("--dir", metavar="DIR", help="the lab's state folder (default: $GRADER_LAB_DIR or "
                       "/var/lib/grader/lab; with --docker $GRADER_DOCKER_LAB_DIR or /var/lib/grader/docker-lab)")
        if name == "down":
            p.add_argument("--force", action="store_true",
                           help="remove it even while a test session is using it")
        p.set_defaults(func=func)
    parser.set_defaults(func=lambda args: _usage(parser))


def _usage(parser) -> int:
    from grader.errors import UsageError
    raise UsageError("lab: say what to do: grader lab up | down | status [--docker]")


def _lab(args):
    from pathlib import Path

    if args.docker:
        from grader.dockerlab import DockerLab
        return DockerLab(Path(args.dir)) if args.dir else DockerLab.default()
    from grader.lab import Lab
    return Lab(Path(args.dir)) if args.dir else Lab.default()


def _up(args) -> int:
    import time

    lab = _lab(args)
    start = time.monotonic()
    built = lab.up()
    took = time.monotonic() - start
    what = "docker lab" if args.docker else "lab"
    if built:
        print(f"grader: {what} up in {took:.1f}s; inventory:", file=sys.stderr)
    else:
        print(f"grader: {what} already up; inventory:", file=sys.stderr)
    print(lab.inventory_path)
    return 0


def _down(args) -> int:
    lab = _lab(args)
    removed = lab.down(force=args.force)
    what = "docker lab" if args.docker else "lab"
    print(f"{what} down" if removed else f"{what} was not up: nothing to remove")
    return 0


def _status(args) -> int:
    from grader.errors import EXIT_ENVIRONMENT

    lab = _lab(args)
    if args.docker:
        states = lab.status()
        for name, state in states.items():
            print(f"{name:<22} {state}")
        ok = lab.is_up()
        print(f"docker lab is {'up' if ok else 'down'} (DOCKER_HOST={lab.docker_host})"
              + (f"; inventory {lab.inventory_path}" if ok else ""))
        return 0 if ok else EXIT_ENVIRONMENT
    hosts = lab.status()
    for h in hosts:
        print(f"{h.name:<14} {h.address:<12} ssh {'ok' if h.ssh else 'DOWN':<5} {h.detail}")
    ok = all(h.ssh for h in hosts)
    print(f"lab is {'up' if ok else 'down'}" + (f"; inventory {lab.inventory_path}" if ok else ""))
    return 0 if ok else EXIT_ENVIRONMENT
