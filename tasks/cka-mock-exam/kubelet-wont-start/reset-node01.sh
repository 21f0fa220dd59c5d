#!/usr/bin/env bash
# Put the kubelet's configuration back: the copy setup saved, or, when there is none
# (reset run twice), repair the clientCAFile line in place.  Remove a copy of the CA
# left at the wrong path, restart the kubelet.  Safe to run twice.
set -euo pipefail
conf=/var/lib/kubelet/config.yaml
saved=/var/tmp/cka-mock-exam/kubelet-wont-start/config.yaml
good=/etc/kubernetes/pki/ca.crt
bad="${BAD_CA:?BAD_CA is not set}"

if [[ -f $saved ]]; then
  cp -p "$saved" "$conf"
elif grep -Eq '^[[:space:]]*clientCAFile:' "$conf"; then
  sed -i -E "s|^([[:space:]]*clientCAFile:).*|\1 $good|" "$conf"
else  # the line was deleted: it belongs under authentication.x509
  sed -i -E "s|^([[:space:]]*)x509:[[:space:]]*\{\}[[:space:]]*$|\1x509:\n\1  clientCAFile: $good|" "$conf"
  grep -Eq '^[[:space:]]*clientCAFile:' "$conf" ||
    sed -i -E "s|^([[:space:]]*)x509:[[:space:]]*$|\1x509:\n\1  clientCAFile: $good|" "$conf"
fi
if [[ -e $bad ]] && cmp -s "$bad" "$good"; then
  rm -f "$bad"
fi
systemctl restart kubelet
rm -rf "$(dirname "$saved")"
if [[ -d /var/tmp/cka-mock-exam ]]; then rmdir --ignore-fail-on-non-empty /var/tmp/cka-mock-exam; fi
