#!/usr/bin/env bash
# On node01: is the CNI config that the runtime loads (the first *.conflist, *.conf or
# *.json in /etc/cni/net.d) valid JSON whose plugins all exist in /usr/lib/cni and whose
# bridge hands out addresses from this node's own podCIDR?  Prints what it found.
set -uo pipefail
node=${GRADER_HOST_NODE01_NODE:-node01}
cidr=$(kubectl --kubeconfig=/etc/kubernetes/kubelet.conf get node "$node" -o jsonpath='{.spec.podCIDR}' 2>/dev/null)
python3 - "$cidr" <<'PY'
import glob, ipaddress, json, os, sys
cidr = sys.argv[1]
files = sorted(f for f in glob.glob("/etc/cni/net.d/*") if f.endswith((".conflist", ".conf", ".json")) and os.path.isfile(f))
if not files:
    sys.exit("no *.conflist, *.conf or *.json in /etc/cni/net.d")
path = files[0]
try:
    with open(path) as fh:
        conf = json.load(fh)
except (OSError, ValueError) as exc:
    sys.exit(f"{path}: not valid JSON: {exc}")
plugins = conf.get("plugins", [conf])
types = [p.get("type", "") for p in plugins]
missing = [t for t in types if not os.path.isfile(os.path.join("/usr/lib/cni", t))]
subnets = []
for p in plugins:
    ipam = p.get("ipam", {})
    subnets += [r.get("subnet", "") for rs in ipam.get("ranges", []) for r in rs]
    if ipam.get("subnet"):
        subnets.append(ipam["subnet"])
print(f"{path}: plugins {types}, subnets {subnets}, node podCIDR {cidr or '?'}")
if missing:
    sys.exit(f"no plugin binary in /usr/lib/cni for: {missing}")
try:
    want = ipaddress.ip_network(cidr)
    ok = subnets and all(ipaddress.ip_network(s, strict=False) == want for s in subnets)
except ValueError as exc:
    sys.exit(f"bad subnet: {exc}")
sys.exit(0 if ok else "the subnet is not this node's podCIDR")
PY
