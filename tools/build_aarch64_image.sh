#!/bin/bash
# Build the emulated aarch64 board for CI: a Debian bookworm arm64 root filesystem with python3,
# python3-numpy, openssh-server and the LiteRT aarch64 wheel, a small initramfs (MODULES=list,
# virtio modules only), a test SSH key pair and a fixed SSH host key. Everything comes from Debian's
# packages and PyPI; nothing else is downloaded.
#
#   tools/build_aarch64_image.sh [--force]     (root; ~7 min on 2 cores; cached)
#
# Output (EDGE_HARNESS_QEMU_DIR, default ~/.cache/edge-harness/qemu-aarch64/):
#   debian-arm64.qcow2  vmlinuz  initrd.img   the board (booted with -snapshot: never modified)
#   id_ed25519[.pub]                          the key the harness logs in with (root)
#   ssh_host_ed25519_key.pub                  the board's host key, pinned by the transport
#   build.sha256                              hash of this script: a changed script rebuilds
#
# How: debootstrap --foreign unpacks arm64 packages, then the second stage runs the arm64
# maintainer scripts through qemu-user-static via binfmt_misc (registered here if needed).
# Without binfmt_misc (some containers), run this script on a machine or VM that has it and
# copy the output directory; the image is architecture-independent data.
set -euo pipefail

SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
LITERT="ai-edge-litert==2.3.0"        # its aarch64 wheel is tagged manylinux_2_27_aarch64, cp311
OUT="${EDGE_HARNESS_QEMU_DIR:-$HOME/.cache/edge-harness/qemu-aarch64}"
VENV_PYTHON="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python"   # has pip; a bare python3 may not
PYTHON="${PYTHON:-$([ -x "$VENV_PYTHON" ] && echo "$VENV_PYTHON" || command -v python3)}"
PACKAGES=systemd-sysv,udev,openssh-server,python3,python3-numpy,linux-image-arm64,initramfs-tools,kmod,procps
HASH="$(sha256sum "$0" | cut -d' ' -f1)"

log() { echo "build_aarch64_image: $*" >&2; }
die() { log "error: $*"; exit 1; }

if [ "${1:-}" != "--force" ] && [ -f "$OUT/build.sha256" ] && [ "$(cat "$OUT/build.sha256")" = "$HASH" ] \
   && [ -f "$OUT/debian-arm64.qcow2" ]; then
  log "up to date: $OUT"
  exit 0
fi
[ "$(id -u)" = 0 ] || die "run as root (debootstrap and chroot need it)"
for tool in debootstrap qemu-img mkfs.ext4 ssh-keygen chroot; do
  command -v "$tool" >/dev/null || die "$tool is missing (tools/system-deps.sh installs it)"
done
[ -x /usr/libexec/qemu-binfmt/aarch64-binfmt-P ] || die "qemu-user-static is missing"

register_binfmt() {
  local dir=/proc/sys/fs/binfmt_misc
  [ -e "$dir/register" ] || mount -t binfmt_misc binfmt_misc "$dir" \
    || die "binfmt_misc is not available here: build on a machine that has it (see docs/boards.md)"
  [ -e "$dir/qemu-aarch64" ] && return
  # The F flag opens the interpreter now, so the chroot needs no copy of it.
  cat /usr/lib/binfmt.d/qemu-aarch64.conf > "$dir/register" || die "cannot register qemu-aarch64 binfmt"
}

WORK="$(mktemp -d /var/tmp/edge-harness-aarch64.XXXXXX)"
ROOT="$WORK/rootfs"
unmount_all() {
  local m
  for m in proc sys dev/pts dev; do
    if mountpoint -q "$ROOT/$m" 2>/dev/null; then umount -l "$ROOT/$m"; fi
  done
}
cleanup() { unmount_all; rm -rf "$WORK"; }
trap cleanup EXIT

register_binfmt
log "first stage (debootstrap --foreign, arm64, $SUITE)"
debootstrap --arch=arm64 --foreign --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap1.log" \
  || { tail -20 "$WORK/debootstrap1.log"; die "debootstrap first stage failed"; }

# Before the kernel's postinst builds the initramfs: list only the virtio modules and ext4.
mkdir -p "$ROOT/etc/initramfs-tools/conf.d" "$ROOT/etc/initramfs-tools/hooks"
cat >"$ROOT/etc/initramfs-tools/conf.d/edge-harness.conf" <<'EOF'
MODULES=list
COMPRESS=gzip
EOF
cat >"$ROOT/etc/initramfs-tools/hooks/edge-harness-virtio" <<'EOF'
#!/bin/sh
[ "$1" = prereqs ] && exit 0
. /usr/share/initramfs-tools/hook-functions
for m in virtio_pci virtio_mmio virtio_blk ext4; do force_load "$m"; done
EOF
chmod +x "$ROOT/etc/initramfs-tools/hooks/edge-harness-virtio"

log "second stage (arm64 maintainer scripts under qemu-user-static)"
chroot "$ROOT" /debootstrap/debootstrap --second-stage >"$WORK/debootstrap2.log" 2>&1 \
  || { tail -30 "$WORK/debootstrap2.log"; die "debootstrap second stage failed"; }

log "LiteRT wheel ($LITERT, manylinux_2_27_aarch64) into /usr/local"
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1
SITE="$ROOT/usr/local/lib/python3.11/dist-packages"
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux_2_27_aarch64 \
  --python-version 3.11 --implementation cp --abi cp311 -d "$WORK/wheels" "$LITERT"
# Only the wheel: the interpreter module needs numpy alone, which comes from Debian.
"$PYTHON" -m pip install --quiet --no-deps --no-compile --only-binary=:all: --platform manylinux_2_27_aarch64 \
  --python-version 3.11 --implementation cp --abi cp311 --target "$SITE" "$WORK"/wheels/*.whl

log "configuration: network, ssh keys, fstab"
echo qemu-aarch64 >"$ROOT/etc/hostname"
echo "/dev/vda / ext4 defaults,noatime 0 1" >"$ROOT/etc/fstab"
cat >"$ROOT/etc/systemd/network/10-virtio.network" <<'EOF'
[Match]
Name=e*
[Network]
DHCP=ipv4
EOF
chroot "$ROOT" systemctl enable systemd-networkd >/dev/null 2>&1
chroot "$ROOT" passwd -l root >/dev/null
rm -f "$ROOT"/etc/ssh/ssh_host_*
ssh-keygen -q -t ed25519 -N "" -C edge-harness-qemu-host -f "$WORK/ssh_host_ed25519_key"
ssh-keygen -q -t ed25519 -N "" -C edge-harness-qemu-test -f "$WORK/id_ed25519"
cp "$WORK/ssh_host_ed25519_key" "$WORK/ssh_host_ed25519_key.pub" "$ROOT/etc/ssh/"
chmod 600 "$ROOT/etc/ssh/ssh_host_ed25519_key"
cat >"$ROOT/etc/ssh/sshd_config.d/edge-harness.conf" <<'EOF'
HostKey /etc/ssh/ssh_host_ed25519_key
PasswordAuthentication no
PermitRootLogin prohibit-password
UseDNS no
EOF
install -d -m 700 "$ROOT/root/.ssh"
install -m 600 "$WORK/id_ed25519.pub" "$ROOT/root/.ssh/authorized_keys"
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* "$ROOT/debootstrap"

log "disk image (mkfs.ext4 -d: no loop device needed)"
unmount_all
mkdir -p "$OUT"
cp "$ROOT"/boot/vmlinuz-* "$WORK/vmlinuz"
cp "$ROOT"/boot/initrd.img-* "$WORK/initrd.img"
mkfs.ext4 -q -L edge-harness -d "$ROOT" "$WORK/rootfs.raw" 2G
qemu-img convert -c -O qcow2 "$WORK/rootfs.raw" "$WORK/debian-arm64.qcow2"
mv "$WORK/debian-arm64.qcow2" "$WORK/vmlinuz" "$WORK/initrd.img" "$WORK/id_ed25519" "$WORK/id_ed25519.pub" "$OUT/"
cp "$WORK/ssh_host_ed25519_key.pub" "$OUT/"
chmod 600 "$OUT/id_ed25519"
echo "$HASH" >"$OUT/build.sha256"
log "done: $OUT ($(du -sh "$OUT" | cut -f1); initrd $(du -h "$OUT/initrd.img" | cut -f1))"
