"""The kube lab's add-ons: dynamic volumes and NetworkPolicy, deployed by `grader lab up --kube`.

* **local-path-provisioner** (namespace `local-path-storage`, StorageClass `local-path`,
  provisioner `rancher.io/local-path`, WaitForFirstConsumer, not the default class): a
  claim of that class gets a hostPath PV on the node its pod lands on, in
  `<lab dir>/<host>/disk/local-path` (per host, on disk, gone with `lab down`). Helper
  pods (busybox:1.36) create and remove the volume folders.
* **kube-router** with only its NetworkPolicy controller (DaemonSet `kube-router` in
  kube-system, `--run-firewall=true --run-router=false --run-service-proxy=false`): it
  turns NetworkPolicies into iptables rules and ipsets on each host, in front of the
  bridge CNI (bridged pod traffic passes the FORWARD chain: `bridge-nf-call-iptables=1`).

The manifests are pure text (`manifests`); `deploy` applies them on a running cluster and
waits until both run.  `import_images` loads the add-on images into each host's
containerd, as `KubeCluster.up` does for every image (a running lab that predates the
add-ons gets them this way, without a `lab down`).
"""
from __future__ import annotations

import json
import shlex
import time
from pathlib import Path

from grader.lab import kubebuild, kubefiles
from grader.errors import KubeLabError

STORAGE_NS = "local-path-storage"
STORAGE_CLASS = "local-path"
PROVISIONER = "rancher.io/local-path"
HELPER_IMAGE = "docker.io/library/busybox:1.36"
LOCAL_PATH_IMAGE = f"docker.io/rancher/local-path-provisioner:{kubebuild.LOCAL_PATH_TAG}"
KUBE_ROUTER_IMAGE = f"docker.io/cloudnativelabs/kube-router:{kubebuild.KUBE_ROUTER_TAG}"
IMAGES = (LOCAL_PATH_IMAGE, KUBE_ROUTER_IMAGE)
MANIFEST = "/etc/kubernetes/grader/addons.yaml"
READY_TIMEOUT = 180


def volume_dir(lab_dir: Path, host: str) -> str:
    """Where a host's local-path volumes live (the machine's path, seen alike inside the host)."""
    return str(Path(lab_dir) / host / "disk" / "local-path")


def local_path_config(paths: dict[str, str]) -> str:
    return json.dumps({"nodePathMap": [{"node": node, "paths": [path]} for node, path in sorted(paths.items())]},
                      indent=2)


HELPER_POD = f"""apiVersion: v1
kind: Pod
metadata:
  name: helper-pod
spec:
  priorityClassName: system-node-critical
  tolerations:
    - key: node.kubernetes.io/disk-pressure
      operator: Exists
      effect: NoSchedule
  containers:
    - name: helper-pod
      image: {HELPER_IMAGE}
      imagePullPolicy: IfNotPresent
"""

SETUP = '#!/bin/sh\nset -eu\nmkdir -m 0777 -p "$VOL_DIR"\n'
TEARDOWN = '#!/bin/sh\nset -eu\nrm -rf "$VOL_DIR"\n'


def _block(text: str, indent: int) -> str:
    pad = " " * indent
    return "\n".join(pad + line if line else "" for line in text.rstrip("\n").splitlines())


def local_path_manifest(paths: dict[str, str]) -> str:
    """Upstream's deploy/local-path-storage.yaml, with the lab's image, helper image and paths."""
    return f"""apiVersion: v1
kind: Namespace
metadata:
  name: {STORAGE_NS}
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: local-path-provisioner-service-account
  namespace: {STORAGE_NS}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: local-path-provisioner-role
  namespace: {STORAGE_NS}
rules:
  - apiGroups: [""]
    resources: ["pods"]
    verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: local-path-provisioner-role
rules:
  - apiGroups: [""]
    resources: ["nodes", "persistentvolumeclaims", "configmaps", "pods", "pods/log"]
    verbs: ["get", "list", "watch"]
  - apiGroups: [""]
    resources: ["persistentvolumes"]
    verbs: ["get", "list", "watch", "create", "patch", "update", "delete"]
  - apiGroups: [""]
    resources: ["events"]
    verbs: ["create", "patch"]
  - apiGroups: ["storage.k8s.io"]
    resources: ["storageclasses"]
    verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: local-path-provisioner-bind
  namespace: {STORAGE_NS}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: local-path-provisioner-role
subjects:
  - kind: ServiceAccount
    name: local-path-provisioner-service-account
    namespace: {STORAGE_NS}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: local-path-provisioner-bind
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: local-path-provisioner-role
subjects:
  - kind: ServiceAccount
    name: local-path-provisioner-service-account
    namespace: {STORAGE_NS}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: local-path-provisioner
  namespace: {STORAGE_NS}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: local-path-provisioner
  template:
    metadata:
      labels:
        app: local-path-provisioner
    spec:
      serviceAccountName: local-path-provisioner-service-account
      terminationGracePeriodSeconds: 5
      tolerations:
        - key: node-role.kubernetes.io/control-plane
          operator: Exists
          effect: NoSchedule
      containers:
        - name: local-path-provisioner
          image: {LOCAL_PATH_IMAGE}
          imagePullPolicy: IfNotPresent
          command: [local-path-provisioner, --debug, start, --config, /etc/config/config.json]
          volumeMounts:
            - name: config-volume
              mountPath: /etc/config/
          env:
            - name: POD_NAMESPACE
              valueFrom:
                fieldRef:
                  fieldPath: metadata.namespace
            - name: CONFIG_MOUNT_PATH
              value: /etc/config/
          resources:
            requests:
              cpu: 5m
              memory: 16Mi
      volumes:
        - name: config-volume
          configMap:
            name: local-path-config
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: {STORAGE_CLASS}
provisioner: {PROVISIONER}
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: local-path-config
  namespace: {STORAGE_NS}
data:
  config.json: |-
{_block(local_path_config(paths), 4)}
  setup: |-
{_block(SETUP, 4)}
  teardown: |-
{_block(TEARDOWN, 4)}
  helperPod.yaml: |-
{_block(HELPER_POD, 4)}
"""


def kube_router_manifest() -> str:
    """kube-router's firewall-only DaemonSet (upstream's kube-router-firewall-daemonset.yaml),
    in-cluster credentials instead of a kubeconfig file, no CNI of its own."""
    return f"""apiVersion: v1
kind: ServiceAccount
metadata:
  name: kube-router
  namespace: kube-system
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: kube-router
rules:
  - apiGroups: [""]
    resources: ["namespaces", "pods", "services", "nodes", "endpoints"]
    verbs: ["list", "get", "watch"]
  - apiGroups: ["networking.k8s.io"]
    resources: ["networkpolicies"]
    verbs: ["list", "get", "watch"]
  - apiGroups: ["discovery.k8s.io"]
    resources: ["endpointslices"]
    verbs: ["list", "get", "watch"]
  - apiGroups: [""]
    resources: ["events"]
    verbs: ["create", "patch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: kube-router
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: kube-router
subjects:
  - kind: ServiceAccount
    name: kube-router
    namespace: kube-system
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: kube-router
  namespace: kube-system
  labels:
    k8s-app: kube-router
spec:
  selector:
    matchLabels:
      k8s-app: kube-router
  template:
    metadata:
      labels:
        k8s-app: kube-router
    spec:
      priorityClassName: system-node-critical
      serviceAccountName: kube-router
      hostNetwork: true
      terminationGracePeriodSeconds: 5
      tolerations:
        - operator: Exists
      containers:
        - name: kube-router
          image: {KUBE_ROUTER_IMAGE}
          imagePullPolicy: IfNotPresent
          args:
            - --run-router=false
            - --run-firewall=true
            - --run-service-proxy=false
            - --service-cluster-ip-range={kubefiles.SERVICE_SUBNET}
            - --health-port=20244
          env:
            - name: NODE_NAME
              valueFrom:
                fieldRef:
                  fieldPath: spec.nodeName
          securityContext:
            privileged: true
          livenessProbe:
            httpGet:
              path: /healthz
              port: 20244
            initialDelaySeconds: 10
            periodSeconds: 10
          resources:
            requests:
              cpu: 10m
              memory: 32Mi
          volumeMounts:
            - name: xtables-lock
              mountPath: /run/xtables.lock
      volumes:
        - name: xtables-lock
          hostPath:
            path: /run/xtables.lock
            type: FileOrCreate
"""


def manifests(paths: dict[str, str]) -> str:
    return "# grader kube lab add-ons (grader/kubeaddons.py)\n" + local_path_manifest(paths) + "---\n" \
        + kube_router_manifest()


# --- on a running cluster ---------------------------------------------------------

def import_images(cluster, tars: dict[str, Path], hosts) -> None:
    """Load image tars into each host's containerd (what KubeCluster.up does for all images)."""
    imgdir = cluster.lab.dir / "images"
    imgdir.mkdir(exist_ok=True)
    for tar in tars.values():
        kubebuild.link_file(tar, imgdir / tar.name)
    quoted = " ".join(shlex.quote(str(imgdir / t.name)) for t in tars.values())
    for host in hosts:
        cluster.sh(host, f"for t in {quoted}; do ctr --address {kubefiles.CONTAINERD_SOCK} -n k8s.io images import "
                         f"--no-unpack=false \"$t\" >/dev/null; done", timeout=300)


def deploy(cluster, hosts) -> None:
    """Apply the add-ons and wait until the provisioner and a kube-router per node run."""
    paths = {}
    for host in hosts:
        path = volume_dir(cluster.lab.dir, host)
        Path(path).mkdir(parents=True, exist_ok=True)
        cluster.sh(host, f"test -d {shlex.quote(path)} || {{ echo 'the volume folder {path} is not visible "
                         f"in the host' >&2; exit 1; }}")
        paths[host] = path
    cluster.write(hosts[0], MANIFEST, manifests(paths))
    cluster.kubectl(f"apply -f {MANIFEST} >/dev/null", timeout=90)
    wait(cluster)


def wait(cluster, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        lpp = cluster.kubectl(f"-n {STORAGE_NS} get deployment local-path-provisioner "
                              "-o jsonpath='{.status.readyReplicas}'", check=False).strip()
        kr = cluster.kubectl("-n kube-system get daemonset kube-router -o jsonpath="
                             "'{.status.numberReady}/{.status.desiredNumberScheduled}'", check=False).strip()
        ready, _, desired = kr.partition("/")
        last = f"local-path-provisioner ready replicas {lpp or 0}, kube-router ready {kr or '0/?'}"
        if lpp and int(lpp) >= 1 and desired and ready == desired:
            return
        time.sleep(2)
    raise KubeLabError(f"the lab's add-ons did not run within {timeout:.0f}s ({last}); see "
                       f"`kubectl -n {STORAGE_NS} get pods` and `kubectl -n kube-system get pods -l k8s-app=kube-router`")
