"""The docker-archive format of grader/lab/kubeimages.py and its rootfs model, without containerd.

A small image made from inline files (no machine tools) stands in for the real ones;
tests/integration/test_kubeimages.py imports and runs those.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import tarfile
from pathlib import Path

import pytest

from grader.lab import kubeimages
from grader.lab import kubeimages_rootfs as rootfs
from grader.errors import EXIT_ENVIRONMENT, KubeImageError

REF = "registry.example/test/tiny:1.0"


def tiny_recipe(ctx: rootfs.Context) -> rootfs.Rootfs:
    fs = rootfs.Rootfs(ctx.ref)
    fs.symlink("bin", "usr/bin")
    fs.write("bin/hello", "#!/bin/sh\necho hello\n", 0o755)
    fs.write("etc/motd", (ctx.bin_dir / "motd").read_text())
    fs.mkdir("tmp", 0o1777)
    fs.mkdir("home/someone", 0o750, uid=100, gid=101)
    fs.copy("data/blob", ctx.bin_dir / "blob")
    return fs


SPEC = kubeimages.ImageSpec(REF, tiny_recipe, "a test image", entrypoint=("/bin/hello",), cmd=("--loud",),
                            user="100:101", ports=("80/tcp",), binaries=("blob",))


@pytest.fixture
def bin_dir(tmp_path):
    d = tmp_path / "bin"
    d.mkdir()
    (d / "motd").write_text("welcome\n")
    (d / "blob").write_bytes(os.urandom(70000))
    return d


def build(bin_dir: Path, out: Path, lines=None) -> Path:
    return kubeimages.build_one(SPEC, bin_dir, out, progress=(lines.append if lines is not None else lambda s: None))


def members(tar_path: Path) -> dict[str, bytes]:
    with tarfile.open(tar_path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_manifest_names_the_ref_and_the_config_matches_the_layer(bin_dir, tmp_path):
    files = members(build(bin_dir, tmp_path / "out"))
    manifest = json.loads(files["manifest.json"])
    assert len(manifest) == 1 and manifest[0]["RepoTags"] == [REF]
    config_name, (layer_name,) = manifest[0]["Config"], manifest[0]["Layers"]
    assert config_name == hashlib.sha256(files[config_name]).hexdigest() + ".json"
    config = json.loads(files[config_name])
    layer_digest = "sha256:" + hashlib.sha256(files[layer_name]).hexdigest()
    assert config["rootfs"] == {"type": "layers", "diff_ids": [layer_digest]}
    assert layer_name == f"{layer_digest[7:]}/layer.tar"
    assert (config["architecture"], config["os"]) == ("amd64", "linux")
    assert config["config"]["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    assert config["config"]["Entrypoint"] == ["/bin/hello"] and config["config"]["Cmd"] == ["--loud"]
    assert config["config"]["User"] == "100:101" and config["config"]["ExposedPorts"] == {"80/tcp": {}}
    assert sorted(files) == sorted([config_name, layer_name, "manifest.json"])


def test_the_layer_is_the_rootfs_sorted_with_fixed_times_and_owners(bin_dir, tmp_path):
    files = members(build(bin_dir, tmp_path / "out"))
    layer_name = json.loads(files["manifest.json"])[0]["Layers"][0]
    with tarfile.open(fileobj=io.BytesIO(files[layer_name])) as layer:
        entries = layer.getmembers()
        content = {m.name: layer.extractfile(m).read() for m in entries if m.isfile()}
    names = [m.name for m in entries]
    assert names == sorted(names)
    assert names == ["bin", "data", "data/blob", "etc", "etc/motd", "home", "home/someone", "tmp", "usr", "usr/bin",
                     "usr/bin/hello"]
    by_name = {m.name: m for m in entries}
    assert by_name["bin"].issym() and by_name["bin"].linkname == "usr/bin"
    assert by_name["usr/bin/hello"].mode == 0o755 and content["usr/bin/hello"].startswith(b"#!/bin/sh")
    assert by_name["tmp"].mode == 0o1777
    assert (by_name["home/someone"].uid, by_name["home/someone"].gid, by_name["home/someone"].mode) == (100, 101, 0o750)
    assert content["data/blob"] == (bin_dir / "blob").read_bytes()
    assert by_name["data/blob"].mode == 0o644       # not executable on the machine
    assert all(m.mtime == 0 and m.uname == "" and m.gname == "" for m in entries)
    assert all((m.uid, m.gid) == (0, 0) for m in entries if m.name != "home/someone")


def test_two_builds_give_the_same_bytes(bin_dir, tmp_path):
    one, two = build(bin_dir, tmp_path / "one"), build(bin_dir, tmp_path / "two")
    assert one.read_bytes() == two.read_bytes()


def test_unchanged_inputs_reuse_the_tar_and_a_changed_one_rebuilds_it(bin_dir, tmp_path):
    lines: list[str] = []
    tar = build(bin_dir, tmp_path / "out", lines)
    first, mtime = tar.read_bytes(), tar.stat().st_mtime_ns
    assert build(bin_dir, tmp_path / "out", lines) == tar
    assert tar.stat().st_mtime_ns == mtime and "unchanged" in lines[-1]
    (bin_dir / "motd").write_text("changed\n")
    build(bin_dir, tmp_path / "out", lines)
    assert "built" in lines[-1] and tar.read_bytes() != first
    assert not [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".") and p.name != ".lock"]


def test_a_damaged_tar_is_rebuilt(bin_dir, tmp_path):
    tar = build(bin_dir, tmp_path / "out")
    good = tar.read_bytes()
    tar.write_bytes(good[:1000])
    assert build(bin_dir, tmp_path / "out").read_bytes() == good


def test_missing_binaries_and_unknown_refs_name_the_image(bin_dir, tmp_path):
    (bin_dir / "blob").unlink()
    with pytest.raises(KubeImageError) as err:
        build(bin_dir, tmp_path / "out")
    assert REF in str(err.value) and "blob" in str(err.value) and err.value.exit_code == EXIT_ENVIRONMENT
    with pytest.raises(KubeImageError, match="image docker.io/library/nope:1: unknown"):
        kubeimages.build_images(bin_dir, tmp_path / "out", ["docker.io/library/nope:1"])


def test_the_images_kubeadm_and_pods_ask_for():
    assert list(kubeimages.IMAGES) == [
        "registry.k8s.io/pause:3.10.1",
        "registry.k8s.io/kube-apiserver:v1.35.4",
        "registry.k8s.io/kube-controller-manager:v1.35.4",
        "registry.k8s.io/kube-scheduler:v1.35.4",
        "registry.k8s.io/kube-proxy:v1.35.4",
        "registry.k8s.io/etcd:3.6.5-0",
        "registry.k8s.io/coredns/coredns:v1.13.1",
        "docker.io/library/busybox:1.36",
        "docker.io/library/nginx:1.27",
        "docker.io/curlimages/curl:8.8.0",
        "docker.io/rancher/local-path-provisioner:v0.0.30",
        "docker.io/cloudnativelabs/kube-router:v2.1.0",
    ]
    nginx = json.loads(kubeimages.image_config(kubeimages.IMAGES["docker.io/library/nginx:1.27"], "sha256:x"))
    assert nginx["config"]["Cmd"] == ["nginx", "-g", "daemon off;"]
    apiserver = kubeimages.IMAGES["registry.k8s.io/kube-apiserver:v1.35.4"]
    assert apiserver.binaries == ("kube-apiserver",)
    assert {"busybox-static", "iptables", "conntrack", "curl", "ca-certificates", "gcc", "libc6-dev", "ipset"} <= set(
        kubeimages.apt_packages())
    router = json.loads(kubeimages.image_config(kubeimages.IMAGES["docker.io/cloudnativelabs/kube-router:v2.1.0"],
                                                "sha256:x"))
    assert router["config"]["Entrypoint"] == ["/usr/local/bin/kube-router"]


def test_rootfs_paths_follow_its_own_symlinks():
    fs = rootfs.Rootfs("t:1")
    fs.symlink("lib", "usr/lib")
    fs.symlink("var/lock", "../run/lock")
    fs.write("lib/x/libfoo.so", b"x")
    fs.mkdir("var/lock")
    assert "usr/lib/x/libfoo.so" in fs.entries and "run/lock" in fs.entries
    assert fs.exists("/usr/lib/x/libfoo.so") and fs.exists("lib/x/libfoo.so")
    fs.write("usr/lib/x/libfoo.so", b"x")        # the same again is fine
    with pytest.raises(KubeImageError, match="image t:1: rootfs: /usr/lib/x/libfoo.so is given twice"):
        fs.write("lib/x/libfoo.so", b"y")
    with pytest.raises(KubeImageError, match="not a directory"):
        fs.mkdir("usr/lib/x/libfoo.so/sub")
    fs.symlink("loop", "loop")
    with pytest.raises(KubeImageError, match="symlink loop"):
        fs.mkdir("loop/x")


def test_add_host_reproduces_the_symlinks_on_the_way(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "lib.so.1.2").write_bytes(b"\x7fELF-ish")
    (tmp_path / "real" / "lib.so.1").symlink_to("lib.so.1.2")
    (tmp_path / "alias").symlink_to("real")
    fs = rootfs.Rootfs("t:1")
    rootfs.add_host(fs, str(tmp_path / "alias" / "lib.so.1"))
    top = str(tmp_path).lstrip("/")
    assert fs.entries[f"{top}/alias"] == rootfs.Entry(rootfs.LINK, 0o777, target="real")
    assert fs.entries[f"{top}/real/lib.so.1"].target == "lib.so.1.2"
    assert fs.entries[f"{top}/real/lib.so.1.2"].source == str(tmp_path / "real" / "lib.so.1.2")


def test_elf_kind_tells_dynamic_from_static(tmp_path):
    interp, dynamic = rootfs.elf_kind(os.path.realpath(sys.executable))
    assert dynamic and interp and interp.startswith("/")
    (tmp_path / "script").write_text("#!/bin/sh\n")
    assert rootfs.elf_kind(str(tmp_path / "script")) is None
    assert rootfs.shared_libs("t:1", str(tmp_path / "script")) == ()
