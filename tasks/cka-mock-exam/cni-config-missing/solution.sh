#!/usr/bin/env bash
# On node01: the repair a candidate makes after reading the pod's events and the folder:
# give the renamed config its name back, or correct the plugin type it misspells.
set -euo pipefail
dir=/etc/cni/net.d
for moved in "$dir"/*.disabled; do
  [[ -e $moved ]] && mv "$moved" "${moved%.disabled}"
done
for conf in "$dir"/*.conflist; do
  [[ -e $conf ]] && grep -q '"brigde"' "$conf" && python3 - "$conf" <<'PY'
import json, sys
path = sys.argv[1]
with open(path) as fh:
    conf = json.load(fh)
for plugin in conf["plugins"]:
    if plugin.get("type") == "brigde":
        plugin["type"] = "bridge"
with open(path, "w") as fh:
    fh.write(json.dumps(conf, indent=2) + "\n")
PY
done
exit 0
