#!/usr/bin/env bash
# The teardown every drill of this pack shares (its reset, and the first step of its setup):
# remove the drill's network namespace $NS with every process in it (the drill's service and
# anything the candidate started there), the host end $VETH of its veth pair, the other end
# $VETH_PEER when the task names one that may be left on the host, and the drill's state
# folder $STATE. The values come from the task's params ns, veth, veth_peer and state; a
# param the task does not have is skipped. Safe to run any number of times.
set -u
NS=${NS:?the task needs an ns param: the namespace to remove}

if ip netns list | awk '{print $1}' | grep -qx "$NS"; then
  for _ in $(seq 1 25); do
    pids=$(ip netns pids "$NS")
    [ -z "$pids" ] && break
    # shellcheck disable=SC2086  # one pid per word on purpose
    kill $pids 2>/dev/null
    sleep 0.2
  done
  ip netns pids "$NS" | xargs -r kill -9 2>/dev/null
  ip netns del "$NS"
fi

# A deleted namespace takes its veth ends with it, but asynchronously; delete the ends left
# in the host's namespace (both ends, if one was never moved) right away.
for link in "${VETH:-}" "${VETH_PEER:-}"; do
  [ -n "$link" ] || continue
  for _ in $(seq 1 25); do
    ip link show dev "$link" >/dev/null 2>&1 || break
    ip link del dev "$link" 2>/dev/null
    sleep 0.2
  done
done

if [ -n "${STATE:-}" ]; then
  case $STATE in
    /run/grader-state/linux-networking/?*) ;;
    *) echo "state param '$STATE' is not a folder under /run/grader-state/linux-networking/; not removed" >&2
       exit 1 ;;
  esac
  rm -rf "$STATE"
  rmdir /run/grader-state/linux-networking /run/grader-state 2>/dev/null
fi
exit 0
