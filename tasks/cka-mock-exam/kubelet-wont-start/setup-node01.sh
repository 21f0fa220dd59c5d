#!/usr/bin/env bash
# Keep a copy of the kubelet's working configuration (the first time only, so a second
# setup keeps the original), point its client CA at a file that does not exist, and
# restart the kubelet: it now exits at every start.  Safe to run twice.
set -euo pipefail
conf=/var/lib/kubelet/config.yaml
saved=/var/tmp/cka-mock-exam/kubelet-wont-start/config.yaml
good=/etc/kubernetes/pki/ca.crt
bad="${BAD_CA:?BAD_CA is not set}"

if [[ ! -f $saved ]]; then
  if ! grep -Eq "^[[:space:]]*clientCAFile:[[:space:]]*${good}[[:space:]]*$" "$conf"; then
    echo "$conf does not name $good as clientCAFile: not the working configuration, not saving it" >&2
    exit 1
  fi
  mkdir -p "$(dirname "$saved")"
  cp -p "$conf" "$saved"
fi
if [[ -e $bad ]] && cmp -s "$bad" "$good"; then
  rm -f "$bad"   # a copy left by an earlier attempt would hide the fault
fi
sed -i -E "s|^([[:space:]]*clientCAFile:).*|\1 $bad|" "$conf"
systemctl restart kubelet
