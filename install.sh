#!/usr/bin/env bash
# Quick start on a fresh Debian machine, as root:
#
#   bash install.sh                 install what is needed, bring the local lab up, run a demo
#                                   drill (half of it solved by a stand-in candidate), grade it
#                                   and print where the HTML report is
#   .venv/bin/python -m pytest -q   then: the test suite (what .ci/run runs)
#
# Installs the same Debian packages as .ci/run (tests/unit/test_drill_install.py keeps the
# two lists equal), a virtualenv in .venv with grader and its test extras, then runs
# `grader demo`.  Safe to run again.  Arguments are passed to `grader demo`
# (e.g. --seed 7, --count 2, --pack PACK).
set -euo pipefail
cd "$(dirname "$0")"

if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run it as root (the lab creates network namespaces, a bridge and mounts)" >&2
    exit 3
fi

PACKAGES=(openssh-server openssh-client iproute2 iptables iputils-ping util-linux
          procps mount docker.io socat netcat-openbsd python3-venv
          containerd runc containernetworking-plugins busybox-static conntrack curl ca-certificates
          gcc libc6-dev nftables ipset libssl3 libcrypt1 zlib1g libpcre2-8-0)

echo "== apt packages: ${PACKAGES[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q "${PACKAGES[@]}"

echo "== python environment (.venv)"
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test,lint]'

echo "== demo: grader demo $*"
exec .venv/bin/grader demo "$@"
