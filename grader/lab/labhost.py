"""What a lab host is made of: its private places and the script that becomes its PID 1.

Pure text, no I/O; grader/lab/lab.py writes these files and starts the hosts.  The hosts'
addresses and the ssh command line that reaches one are here too, so that the kube lab
(which runs inside the hosts) does not import the lab that starts them.
"""
from __future__ import annotations

from pathlib import Path
from shlex import quote as q

from grader.lab import labnet

HOSTS = {"controlplane": "172.30.1.2", "node01": "172.30.2.2"}
# tmpfs per host: what a host keeps to itself (the kube lab's runtime state included)
PRIVATE_DIRS = ("/etc/kubernetes", "/var/lib/kubelet", "/etc/netns", "/root", "/tmp", "/run", "/var/tmp",
                "/etc/containerd", "/etc/cni", "/var/lib/cni", "/var/log/pods", "/var/log/containers",
                "/var/log/grader", "/lib/modules", "/usr/libexec/kubernetes")
# on disk per host (bound from <lab dir>/<host>/disk/NAME): large runtime state
DISK_DIRS = {"/var/lib/containerd": "containerd", "/var/lib/etcd": "etcd"}
# the machine's folder seen through a per-host overlay: the kube lab's binaries and the
# systemctl/journalctl stand-ins land in each host's own upper layer
OVERLAY_DIRS = {"/usr/local/sbin": "sbin"}
SSHD_CONFIG = """\
# grader lab: sshd of host {host}
Port 22
HostKey {hostdir}/ssh_host_ed25519_key
PidFile none
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PrintMotd no
X11Forwarding no
MaxSessions 64
MaxStartups 64:30:128
ClientAliveInterval 30
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
LogLevel INFO
"""


def init_script(host: str, d: Path) -> str:
    """The script that runs as PID 1 of a host: its private mounts, then sshd."""
    hostdir = d / host
    mounts = [f"mount -t tmpfs -o mode=0755 grader-lab {q(p)}" for p in PRIVATE_DIRS]
    mounts += [f"mount --bind {q(str(hostdir / 'disk' / name))} {q(p)}" for p, name in DISK_DIRS.items()]
    mounts += [f"mount -t overlay grader-lab -o {q(f'lowerdir={p},upperdir={hostdir}/overlay/{name}/upper,workdir={hostdir}/overlay/{name}/work')} {q(p)}"
               for p, name in OVERLAY_DIRS.items()]
    mounts += labnet.cgroup_mount_lines()
    mounts = "\n".join(mounts)
    return f"""# grader lab: runs as PID 1 of host {host}, inside its namespaces
set -eu
exec >>{q(str(hostdir / 'sshd.log'))} 2>&1 </dev/null
hostname {q(host)}
{mounts}
chmod 0700 /root
chmod 1777 /tmp /var/tmp
mkdir -p /run/sshd /run/netns /run/lock
mount --bind {q(str(hostdir / 'hosts'))} /etc/hosts
if [ -e /etc/hostname ]; then mount --bind {q(str(hostdir / 'hostname'))} /etc/hostname; fi
cp -a /etc/skel/. /root/ 2>/dev/null || true
mkdir -m 0700 /root/.ssh
cp {q(str(d / 'id_ed25519'))} /root/.ssh/id_ed25519
cp {q(str(d / 'id_ed25519.pub'))} /root/.ssh/id_ed25519.pub
cp {q(str(d / 'id_ed25519.pub'))} /root/.ssh/authorized_keys
cp {q(str(d / 'known_hosts'))} /root/.ssh/known_hosts
cp {q(str(d / 'ssh_config'))} /root/.ssh/config
chmod 0600 /root/.ssh/*
exec {q(labnet.which('sshd') or '/usr/sbin/sshd')} -D -e -f {q(str(hostdir / 'sshd_config'))}
"""


def ssh_command(lab, address: str, command: str, *, timeout: int = 5) -> list[str]:
    """An OpenSSH client command line reaching a lab host from the root namespace."""
    return ["ssh", "-F", "/dev/null", "-i", str(lab.key), "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
            "-o", f"UserKnownHostsFile={lab.known_hosts}", "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", "-o", f"ConnectTimeout={timeout}", "-o", "LogLevel=ERROR",
            f"root@{address}", command]
