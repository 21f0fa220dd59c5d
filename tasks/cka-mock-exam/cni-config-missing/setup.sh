#!/usr/bin/env bash
# On node01: remember the node's own CNI network config (the first file the runtime
# loads from /etc/cni/net.d), the folder's listing and cni0's addresses, once; put the
# config back as it was (so a second setup breaks it the same way), then break it:
# FAULT=moved renames it out of the runtime's sight, FAULT=plugin misspells the bridge
# plugin's type.  Every runtime reloads /etc/cni/net.d by itself.
set -euo pipefail
dir=/etc/cni/net.d
keep=/var/tmp/cka-mock-exam/cni-config-missing
fault="${FAULT:?FAULT is not set}"

if [[ ! -f $keep/path ]]; then
  conf=$(find "$dir" -maxdepth 1 -type f \( -name '*.conflist' -o -name '*.conf' -o -name '*.json' \) | sort | head -n 1)
  [[ -n $conf ]] || { echo "$(hostname): no CNI config in $dir to break" >&2; exit 1; }
  mkdir -p "$keep"
  cp -p "$conf" "$keep/original"
  find "$dir" -maxdepth 1 -mindepth 1 -printf '%f\n' | sort > "$keep/listing"
  ip -4 -o addr show dev cni0 2>/dev/null | awk '{print $4}' | sort > "$keep/cni0-addrs"
  ip -4 route show | grep -v ' proto kernel ' | sort > "$keep/routes" || true
  printf '%s\n' "$conf" > "$keep/path"
fi
conf=$(cat "$keep/path")
rm -f "$conf.disabled"
cp -p "$keep/original" "$conf"

case "$fault" in
  moved)
    mv "$conf" "$conf.disabled" ;;
  plugin)
    python3 - "$conf" <<'PY'
import json, sys
path = sys.argv[1]
with open(path) as fh:
    conf = json.load(fh)
for plugin in conf.get("plugins", [conf]):
    if plugin.get("type") == "bridge":
        plugin["type"] = "brigde"
        break
else:
    sys.exit(f"{path}: no bridge plugin to misspell")
with open(path, "w") as fh:
    fh.write(json.dumps(conf, indent=2) + "\n")
PY
    ;;
  *)
    echo "unknown FAULT $fault" >&2; exit 1 ;;
esac
