#!/usr/bin/env bash
# Make podman build and run the generated Dockerfiles on this machine kind (see
# shared/containers.md): install podman, configure it for a sandbox without systemd, and create
# the base image the Dockerfile names (no registry can be reached) from a debootstrapped
# bookworm, whose python3 is 3.11. Idempotent: a configured engine and an existing base are kept.
# Run it as the user who runs the tests: what needs root goes through sudo, and the base image
# goes into that user's podman storage.
set -euo pipefail
BASE=docker.io/library/python:3.11-slim
ROOTFS=${PRODML_ROOTFS:-/var/cache/prodml/bookworm-rootfs}
SUDO=
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi

if ! command -v podman >/dev/null || ! command -v debootstrap >/dev/null; then
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        podman runc debootstrap uidmap fuse-overlayfs slirp4netns netavark aardvark-dns \
        iptables >/dev/null \
        || $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc \
            debootstrap >/dev/null
fi

# crun refuses this host's hybrid cgroup layout; there is no systemd; podman's default ulimits
# cannot be set here; netavark named outright (fresh storages otherwise probe CNI and warn).
nofile=$(ulimit -Hn)
$SUDO mkdir -p /etc/containers
$SUDO tee /etc/containers/containers.conf >/dev/null <<CONF
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=32768:32768"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[network]
network_backend = "netavark"
CONF

if podman image exists "$BASE"; then
    echo "base image $BASE present"
    exit 0
fi
if ! $SUDO test -x "$ROOTFS/usr/bin/python3"; then
    $SUDO rm -rf "$ROOTFS.partial"
    $SUDO mkdir -p "$(dirname "$ROOTFS")"
    $SUDO debootstrap --variant=minbase bookworm "$ROOTFS.partial" http://deb.debian.org/debian \
        >/dev/null
    $SUDO cp /etc/resolv.conf "$ROOTFS.partial/etc/resolv.conf"
    $SUDO chroot "$ROOTFS.partial" /bin/sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends python3 python3-venv python3-pip \
        ca-certificates netbase tzdata >/dev/null && apt-get clean && rm -rf /var/lib/apt/lists/*'
    $SUDO ln -sf /usr/bin/python3 "$ROOTFS.partial/usr/local/bin/python"
    $SUDO ln -sf /usr/bin/python3 "$ROOTFS.partial/usr/local/bin/python3"
    $SUDO mv "$ROOTFS.partial" "$ROOTFS"
fi
$SUDO tar -C "$ROOTFS" -c . | podman import \
    --change 'ENV PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$BASE" >/dev/null
echo "base image $BASE created from $ROOTFS"
