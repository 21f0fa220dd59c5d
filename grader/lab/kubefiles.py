"""The files the kube lab writes into its hosts: pure text, no I/O.

* `SVC_SCRIPT`: grader-svc, the hosts' stand-in for systemd (there is no init system in
  a lab host).  Installed as `systemctl` and `journalctl` too, so what candidates type on
  killercoda works: `systemctl restart kubelet`, `systemctl status containerd`,
  `journalctl -u kubelet -n 50`.  `systemctl disable` is remembered (`is-enabled` says
  disabled until `enable`), though there is no boot that would skip the unit.  Each
  service runs under a small supervisor loop that restarts it two seconds after it
  exits, like `Restart=always`; its output goes to
  /var/log/grader/NAME.log.  The kubelet's command line is the one kubeadm's systemd
  drop-in (10-kubeadm.conf) builds, re-read at every start from
  /var/lib/kubelet/kubeadm-flags.env (the host's /etc/default is the machine's, so it is not read).
* containerd's config, the kubeadm init/join configurations and the CNI network.
"""
from __future__ import annotations

import json

CONTAINERD_SOCK = "/run/containerd/containerd.sock"
POD_SUBNET = "10.244.0.0/16"
SERVICE_SUBNET = "10.96.0.0/12"
NODE_MONITOR_GRACE = "25s"  # kube-controller-manager's node-monitor-grace-period (default 50s)
CNI_CONF = "/etc/cni/net.d/10-grader-bridge.conflist"

SVC_SCRIPT = r"""#!/bin/bash
# grader-svc: the systemd stand-in of grader's kube lab hosts (grader/kubefiles.py).
# Called as systemctl, journalctl or grader-svc.
set -u
RUN=/run/grader-svc
LOGS=/var/log/grader
SERVICES="containerd kubelet"
mkdir -p "$RUN" "$LOGS"

unit() { local u=${1%.service}; echo "$u"; }
known() { case " $SERVICES " in *" $1 "*) return 0;; esac; echo "Unit $1.service could not be found." >&2; return 5; }
child_pid() { local p; p=$(cat "$RUN/$1.pid" 2>/dev/null) || return 1; [ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"; }
enablement() { if [ -e "$RUN/$1.disabled" ]; then echo disabled; else echo enabled; fi; }  # as systemctl is-enabled says
sup_pid() { local p; p=$(cat "$RUN/$1.sup" 2>/dev/null) || return 1; [ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"; }

exec_service() {  # the command line of a service, like its unit's ExecStart
    case "$1" in
    containerd) exec /usr/bin/containerd --config /etc/containerd/config.toml ;;
    kubelet)
        KUBELET_KUBEADM_ARGS='' KUBELET_EXTRA_ARGS=''
        # shellcheck disable=SC1091  # written by kubeadm at init/join
        [ -r /var/lib/kubelet/kubeadm-flags.env ] && . /var/lib/kubelet/kubeadm-flags.env
        # shellcheck disable=SC2086  # word splitting of the flag variables is what systemd does
        exec /usr/local/sbin/kubelet --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf \
            --kubeconfig=/etc/kubernetes/kubelet.conf --config=/var/lib/kubelet/config.yaml \
            $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS ;;
    esac
}

supervise() {  # runs detached: (re)start the service until it is stopped
    local name=$1 child
    echo $$ > "$RUN/$name.sup"
    while [ ! -e "$RUN/$name.stopped" ]; do
        date -u +"%Y-%m-%dT%H:%M:%SZ" > "$RUN/$name.since"
        ( exec_service "$name" ) >>"$LOGS/$name.log" 2>&1 </dev/null &
        child=$!
        echo "$child" > "$RUN/$name.pid"
        wait "$child"
        echo "$?" > "$RUN/$name.exit"
        rm -f "$RUN/$name.pid"
        [ -e "$RUN/$name.stopped" ] && break
        echo "grader-svc: $name exited ($(cat "$RUN/$name.exit")); restarting in 2s" >>"$LOGS/$name.log"
        sleep 2
    done
    rm -f "$RUN/$name.sup"
}

start() {
    rm -f "$RUN/$1.stopped"
    sup_pid "$1" >/dev/null && return 0
    setsid "$0" __supervise "$1" >/dev/null 2>&1 </dev/null &
    for _ in $(seq 50); do child_pid "$1" >/dev/null && return 0; sleep 0.1; done
    return 0
}

stop() {
    local p i
    touch "$RUN/$1.stopped"
    p=$(child_pid "$1") && kill "$p" 2>/dev/null
    for i in $(seq 100); do
        child_pid "$1" >/dev/null || sup_pid "$1" >/dev/null || return 0
        [ "$i" = 50 ] && { p=$(child_pid "$1") && kill -9 "$p" 2>/dev/null; }
        sleep 0.1
    done
}

status() {
    local p since
    if p=$(child_pid "$1"); then
        since=$(cat "$RUN/$1.since" 2>/dev/null)
        printf '* %s.service - %s\n     Loaded: loaded (grader-svc; %s)\n     Active: active (running) since %s\n   Main PID: %s\n\n' \
            "$1" "$1" "$(enablement "$1")" "$since" "$p"
        tail -n 10 "$LOGS/$1.log" 2>/dev/null
        return 0
    fi
    if sup_pid "$1" >/dev/null; then
        printf '* %s.service - %s\n     Loaded: loaded (grader-svc; %s)\n     Active: activating (auto-restart) (Result: exit-code %s)\n\n' \
            "$1" "$1" "$(enablement "$1")" "$(cat "$RUN/$1.exit" 2>/dev/null)"
    else
        printf '* %s.service - %s\n     Loaded: loaded (grader-svc; %s)\n     Active: inactive (dead)\n\n' "$1" "$1" "$(enablement "$1")"
    fi
    tail -n 10 "$LOGS/$1.log" 2>/dev/null
    return 3
}

systemctl_main() {
    local verb="" units=() a rc=0 u
    for a in "$@"; do
        case "$a" in
        --now|--no-pager|-l|--full|-q|--quiet|--no-block) ;;
        -*) ;;
        *) if [ -z "$verb" ]; then verb=$a; else units+=("$(unit "$a")"); fi ;;
        esac
    done
    case "$verb" in
    daemon-reload|reset-failed) return 0 ;;
    "") echo "grader-svc: say what to do: systemctl start|stop|restart|status|is-active|enable|disable UNIT" >&2; return 1 ;;
    esac
    for u in "${units[@]}"; do
        known "$u" || { rc=5; continue; }
        case "$verb" in
        start) start "$u" ;;
        stop) stop "$u" ;;
        restart|try-restart|reload-or-restart) stop "$u"; start "$u" ;;
        status) status "$u" || rc=3 ;;
        is-active) if child_pid "$u" >/dev/null; then echo active; else echo inactive; rc=3; fi ;;
        is-enabled) enablement "$u"; [ -e "$RUN/$u.disabled" ] && rc=1 ;;
        enable) rm -f "$RUN/$u.disabled"; case " $* " in *" --now "*) start "$u" ;; esac ;;
        disable) touch "$RUN/$u.disabled"; case " $* " in *" --now "*) stop "$u" ;; esac ;;
        *) echo "grader-svc: systemctl $verb is not supported here" >&2; return 1 ;;
        esac
    done
    return $rc
}

journalctl_main() {
    local u="" n=100 follow=0
    while [ $# -gt 0 ]; do
        case "$1" in
        -u|--unit) u=$(unit "$2"); shift ;;
        --unit=*) u=$(unit "${1#--unit=}") ;;
        -n|--lines) n=$2; shift ;;
        --lines=*) n=${1#--lines=} ;;
        -f|--follow) follow=1 ;;
        *) ;;
        esac
        shift
    done
    [ -n "$u" ] || { echo "grader-svc: journalctl needs -u UNIT (containerd or kubelet)" >&2; return 1; }
    known "$u" || return 1
    [ "$n" = all ] && n=+1
    if [ "$follow" = 1 ]; then exec tail -n "$n" -F "$LOGS/$u.log"; fi
    tail -n "$n" "$LOGS/$u.log" 2>/dev/null
}

if [ "${1:-}" = __supervise ]; then supervise "$2"; exit 0; fi
case "$(basename "$0")" in
journalctl) journalctl_main "$@" ;;
*) systemctl_main "$@" ;;
esac
"""


def containerd_config(pause_image: str) -> str:
    return f"""# grader kube lab: containerd of this host (grader/kubefiles.py)
version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "{CONTAINERD_SOCK}"

[plugins."io.containerd.internal.v1.opt"]
  path = "/var/lib/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause_image}"
  # the machine may not let even root lower oom_score_adj (no CAP_SYS_RESOURCE here):
  # containerd then keeps each container's at least its own, instead of failing runc
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "/etc/cni/net.d"
"""


def _kubelet_config(version: str) -> str:
    return """---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://%s
imageGCHighThresholdPercent: 100
evictionHard:
  nodefs.available: "0%%"
  nodefs.inodesFree: "0%%"
  imagefs.available: "0%%"
""" % CONTAINERD_SOCK


def _node(name: str, address: str, patches: str) -> str:
    """nodeRegistration and patches: the same in init and join (images are never pulled)."""
    return f"""nodeRegistration:
  name: {name}
  criSocket: unix://{CONTAINERD_SOCK}
  imagePullPolicy: Never
  kubeletExtraArgs:
    - name: node-ip
      value: {address}
patches:
  directory: {patches}
"""


def kubeadm_init(*, version: str, name: str, address: str, etcd_tag: str, patches: str) -> str:
    return f"""# grader kube lab: kubeadm init of {name} (grader/kubefiles.py)
apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: {address}
  bindPort: 6443
{_node(name, address, patches)}---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: {version}
clusterName: kubernetes
controlPlaneEndpoint: {address}:6443
imageRepository: registry.k8s.io
networking:
  podSubnet: {POD_SUBNET}
  serviceSubnet: {SERVICE_SUBNET}
  dnsDomain: cluster.local
etcd:
  local:
    imageTag: {etcd_tag}
apiServer:
  certSANs: [{address}, {name}, localhost, 127.0.0.1]
controllerManager:
  extraArgs:  # a node whose kubelet stopped is NotReady after 25 s, not 50 s: node-breaking tasks set up faster
    - name: node-monitor-grace-period
      value: {NODE_MONITOR_GRACE}
---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
conntrack:
  maxPerCore: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
{_kubelet_config(version)}"""


def kubeadm_join(*, name: str, address: str, endpoint: str, token: str, ca_hash: str, patches: str) -> str:
    return f"""# grader kube lab: kubeadm join of {name} (grader/kubefiles.py)
apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: {endpoint}
    token: {token}
    caCertHashes: [{ca_hash}]
{_node(name, address, patches)}"""


def kubelet_patch(cgroup_root: str) -> str:
    """Per host: its own cgroup subtree, so two kubelets on one kernel never meet."""
    return f"cgroupRoot: {cgroup_root}\n"


def cni_conflist(subnet: str) -> str:
    conf = {
        "cniVersion": "1.0.0",
        "name": "grader-pods",
        "plugins": [
            {"type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": False, "hairpinMode": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]],
                      "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }
    return json.dumps(conf, indent=2) + "\n"
