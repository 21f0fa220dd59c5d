"""`grader lab up|down|status [--docker]`: the local two-host lab (see docs/lab.md)."""
from __future__ import annotations

import sys

HELP = """\
The local lab: killercoda's two hosts, controlplane (172.30.1.2) and node01 (172.30.2.2),
each in its own network, UTS, mount and PID namespace with its own sshd, on this machine.
Needs root.  `lab up` prints the path of the lab's inventory on stdout, so:

  export GRADER_INVENTORY=$(grader lab up)

--kube also runs a real Kubernetes cluster inside the two hosts (kubeadm, containerd,
the four static control-plane pods, CoreDNS; nodes controlplane and node01), laid out
like killercoda's kubernetes-kubeadm-2nodes.  Its binaries are built once per machine
from the Go modules in lab/kube (Go needed; about 10 min cold), or taken from
--kube-bin DIR / $GRADER_KUBE_BIN (official release binaries).  See docs/lab.md.

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
                             ("status", _status, "show each host and whether it answers (exit 3 if not all do)"),
                             ("build", _build, "build (or reuse) the kube lab's Kubernetes binaries and images; "
                                               "prints the binaries' folder")):
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--docker", action="store_true", help="the docker variant (kind-like containers)")
        p.add_argument("--dir", metavar="DIR", help="the lab's state folder (default: $GRADER_LAB_DIR or "
                       "/var/lib/grader/lab; with --docker $GRADER_DOCKER_LAB_DIR or /var/lib/grader/docker-lab)")
        if name in ("up", "build"):
            p.add_argument("--kube", action="store_true",
                           help="also bring up a real Kubernetes cluster inside the hosts (builds it once)")
            p.add_argument("--kube-bin", metavar="DIR",
                           help="take the Kubernetes binaries from DIR instead of building them "
                                "(default: $GRADER_KUBE_BIN, else the build cache)")
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
        from grader.lab.dockerlab import DockerLab
        return DockerLab(Path(args.dir)) if args.dir else DockerLab.default()
    from grader.lab.lab import Lab
    return Lab(Path(args.dir)) if args.dir else Lab.default()


def _up(args) -> int:
    import time
    from pathlib import Path

    from grader.errors import UsageError

    lab = _lab(args)
    kube = getattr(args, "kube", False) or bool(getattr(args, "kube_bin", None))
    if kube and args.docker:
        raise UsageError("lab up: --kube is for the local lab, not --docker (the docker variant is kind-like already)")
    start = time.monotonic()
    if args.docker:
        built = lab.up()
    else:
        def progress(msg: str) -> None:
            print(f"grader: {msg}", file=sys.stderr, flush=True)
        built = lab.up(kube=kube, kube_bin=Path(args.kube_bin) if args.kube_bin else None, progress=progress)
    took = time.monotonic() - start
    what = "docker lab" if args.docker else ("kube lab" if kube else "lab")
    if built:
        print(f"grader: {what} up in {took:.1f}s; inventory:", file=sys.stderr)
    else:
        print(f"grader: {what} already up; inventory:", file=sys.stderr)
    print(lab.inventory_path)
    return 0


def _build(args) -> int:
    import time
    from pathlib import Path

    from grader.lab import kubebuild, kubeimages

    start = time.monotonic()

    def progress(msg: str) -> None:
        print(f"grader: {msg}", file=sys.stderr, flush=True)

    bin_dir = kubebuild.ensure_binaries(Path(args.kube_bin) if args.kube_bin else None, progress=progress)
    kubeimages.build_images(bin_dir, kubebuild.cache_dir() / "images", progress=progress)
    print(f"grader: Kubernetes {kubebuild.VERSION} binaries and images ready in "
          f"{time.monotonic() - start:.1f}s", file=sys.stderr)
    print(bin_dir)
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
    if ok and lab.kube_built():
        ready = lab.kube().ready()
        print(f"cluster        {'both nodes Ready' if ready else 'NOT READY (kubectl get nodes on controlplane)'}")
        ok = ok and ready
    print(f"lab is {'up' if ok else 'down'}" + (f"; inventory {lab.inventory_path}" if ok else ""))
    return 0 if ok else EXIT_ENVIRONMENT
