"""Root file systems of the kube lab's add-on images (grader/lab/kubeaddons.py deploys them).

* local-path-provisioner: the binary at /usr/bin (upstream's image puts it there), plus
  busybox for a look inside; it only talks to the apiserver, its helper pods (busybox:1.36)
  create and remove the volume folders on the nodes.
* kube-router: the binary at /usr/local/bin, run with only its NetworkPolicy controller; it
  drives this machine's Debian iptables (the nf_tables backend, as kube-proxy's image) and
  ipset (Debian `ipset`, with libipset and libmnl), both found at their usual paths.
"""
from __future__ import annotations

import os

from grader.lab.kubeimages_rootfs import Context, Rootfs, add_busybox, add_elf, add_iptables, base, fail

IPSET = "/usr/sbin/ipset"


def local_path_provisioner(ctx: Context) -> Rootfs:
    fs = base(ctx)
    add_elf(fs, ctx.bin_dir / "local-path-provisioner", "usr/bin/local-path-provisioner")
    add_busybox(fs)
    return fs


def kube_router(ctx: Context) -> Rootfs:
    fs = base(ctx)
    add_elf(fs, ctx.bin_dir / "kube-router", "usr/local/bin/kube-router")
    add_iptables(fs)
    if not os.path.isfile(IPSET):
        raise fail(fs.ref, "ipset", f"{IPSET} is missing (apt-get install ipset)")
    add_elf(fs, IPSET)
    fs.mkdir("lib/modules")
    add_busybox(fs)
    return fs
