#!/usr/bin/env bash
# Put the kube-scheduler manifest back (the copy setup saved, or, reset run twice, the
# --kubeconfig line repaired in place), remove a copy of scheduler.conf left at the
# wrong path, delete the task's namespace and wait until the scheduler is Ready.
# Safe to run twice, and after a half-done fix (manifest moved away, edited, copied).
set -euo pipefail
manifest=/etc/kubernetes/manifests/kube-scheduler.yaml
saved=/var/tmp/cka-mock-exam/scheduler-manifest-typo/kube-scheduler.yaml
good=/etc/kubernetes/scheduler.conf
bad="${BAD_CONF:?BAD_CONF is not set}"
node="${GRADER_HOST_CONTROLPLANE_NODE:?}"
ns="${NS:?}"

if [[ -f $saved ]]; then
  cmp -s "$saved" "$manifest" || cp -p "$saved" "$manifest"
else
  sed -i -E "s|^([[:space:]]*- --kubeconfig=).*|\1${good}|" "$manifest"
fi
if [[ -e $bad ]] && cmp -s "$bad" "$good"; then
  rm -f "$bad"
fi
# marked for deletion first (no new pods), its pods removed without their grace period:
# the namespace is gone in seconds instead of after each pod's shutdown
kubectl delete namespace "$ns" --ignore-not-found --wait=false
kubectl -n "$ns" delete pods --all --force --grace-period=0 >/dev/null 2>&1 || true
kubectl wait --for=delete namespace/"$ns" --timeout=120s

for _ in $(seq 75); do
  state=$(kubectl -n kube-system get pod "kube-scheduler-$node" \
    -o jsonpath='{.spec.containers[0].command} {.status.containerStatuses[0].ready}' 2>/dev/null || true)
  if [[ $state == *"--kubeconfig=$good"* && $state == *" true" ]]; then
    rm -rf "$(dirname "$saved")"
    if [[ -d /var/tmp/cka-mock-exam ]]; then rmdir --ignore-fail-on-non-empty /var/tmp/cka-mock-exam; fi
    exit 0
  fi
  sleep 2
done
echo "kube-scheduler is not Ready 150s after its manifest was restored" >&2
exit 1
