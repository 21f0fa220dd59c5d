#!/usr/bin/env bash
# On node01: put back the CNI config exactly as setup found it, remove every file that
# appeared in /etc/cni/net.d since (a .disabled copy, a candidate's own config), drop
# addresses that a wrong subnet left on cni0 and restore the routes they shadowed.
# Safe to run twice, and without a setup before it.
set -euo pipefail
dir=/etc/cni/net.d
keep=/var/tmp/cka-mock-exam/cni-config-missing
[[ -f $keep/path ]] || exit 0
conf=$(cat "$keep/path")

cp -p "$keep/original" "$conf.grader-tmp"
mv -f "$conf.grader-tmp" "$conf"
while IFS= read -r name; do
  [[ -n $name ]] || continue
  grep -qxF -- "$name" "$keep/listing" || rm -rf -- "${dir:?}/$name"
done < <(find "$dir" -maxdepth 1 -mindepth 1 -printf '%f\n')

if ip link show cni0 >/dev/null 2>&1; then
  while IFS= read -r addr; do
    [[ -n $addr ]] || continue
    grep -qxF -- "$addr" "$keep/cni0-addrs" || ip addr del "$addr" dev cni0
  done < <(ip -4 -o addr show dev cni0 | awk '{print $4}')
fi
while IFS= read -r route; do
  [[ -n $route ]] || continue
  # shellcheck disable=SC2086  # a saved route is a list of ip-route words
  ip -4 route show | grep -qxF -- "$route" || ip route replace $route
done < "$keep/routes"

rm -rf "$keep"
rmdir --ignore-fail-on-non-empty /var/tmp/cka-mock-exam 2>/dev/null || true
