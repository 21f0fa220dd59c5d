"""grader/lab/kubeaddons.py: the add-on manifests `lab up --kube` applies (pure text).

The real deployment is proven on the kube lab by tests/integration/test_kube_addons.py.
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from grader.lab import kubeaddons, kubebuild, kubeimages

PATHS = {"controlplane": "/var/lib/grader/lab/controlplane/disk/local-path",
         "node01": "/var/lib/grader/lab/node01/disk/local-path"}


def docs():
    return [d for d in yaml.safe_load_all(kubeaddons.manifests(PATHS)) if d]


def by_kind(kind: str, name: str) -> dict:
    return next(d for d in docs() if d["kind"] == kind and d["metadata"]["name"] == name)


def test_every_image_the_add_ons_run_is_built_locally():
    images = {c["image"] for d in docs() if d["kind"] in ("Deployment", "DaemonSet")
              for c in d["spec"]["template"]["spec"]["containers"]}
    assert images == set(kubeaddons.IMAGES) and images <= set(kubeimages.IMAGES)
    config = by_kind("ConfigMap", "local-path-config")["data"]
    helper = yaml.safe_load(config["helperPod.yaml"])
    assert helper["spec"]["containers"][0]["image"] == kubeaddons.HELPER_IMAGE in kubeimages.IMAGES
    for d in docs():
        for c in d.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            assert c["imagePullPolicy"] == "IfNotPresent"     # nothing is ever pulled


def test_the_storage_class_provisions_per_node_and_is_not_the_default():
    sc = by_kind("StorageClass", "local-path")
    assert sc["provisioner"] == kubeaddons.PROVISIONER == "rancher.io/local-path"
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer"
    assert "storageclass.kubernetes.io/is-default-class" not in sc["metadata"].get("annotations", {})
    config = json.loads(by_kind("ConfigMap", "local-path-config")["data"]["config.json"])
    assert {e["node"]: e["paths"] for e in config["nodePathMap"]} == {h: [p] for h, p in PATHS.items()}
    assert kubeaddons.volume_dir(Path("/var/lib/grader/lab"), "node01") == PATHS["node01"]


def test_kube_router_runs_only_its_network_policy_controller_on_every_node():
    ds = by_kind("DaemonSet", "kube-router")
    pod = ds["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    assert {"--run-firewall=true", "--run-router=false", "--run-service-proxy=false"} <= set(args)
    assert "--service-cluster-ip-range=10.96.0.0/12" in args
    assert pod["hostNetwork"] is True and pod["tolerations"] == [{"operator": "Exists"}]
    assert pod["containers"][0]["securityContext"]["privileged"] is True
    role = by_kind("ClusterRole", "kube-router")
    assert any("networkpolicies" in r["resources"] for r in role["rules"])


def test_add_on_binaries_are_pinned_built_and_stamped_with_their_versions():
    names = {b.name: b for b in kubebuild.BINARIES}
    assert set(kubebuild.ADDONS) <= set(names)
    assert f"version.Version={kubebuild.KUBE_ROUTER_TAG}" in names["kube-router"].stamps
    assert f"main.VERSION={kubebuild.LOCAL_PATH_TAG}" in names["local-path-provisioner"].stamps
    assert kubebuild.LOCAL_PATH_TAG == kubeimages.LOCAL_PATH_TAG and kubebuild.KUBE_ROUTER_TAG == kubeimages.KUBE_ROUTER_TAG
    for b in kubebuild.ADDONS:
        mod = (kubebuild.source_dir() / names[b].module / "go.mod").read_text()
        assert f"tool {names[b].package}" in mod
    assert "github.com/rancher/local-path-provisioner v0.0.30" in (kubebuild.source_dir() / "local-path-provisioner"
                                                                   / "go.mod").read_text()
