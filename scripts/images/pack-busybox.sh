#!/usr/bin/env bash
# Packs Debian's static busybox (package busybox-static) as an image with a shell:
# /bin/busybox, a symlink for each of its applets where busybox puts it (/bin/sh, /bin/ls,
# /usr/bin/wget, /usr/bin/nslookup, ...), /etc/passwd, /etc/group, /root and /tmp.
#
#   OUT/busybox.tar.gz       a root filesystem; import it with
#                              shoal image import --change 'CMD ["sh"]' \
#                                --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
#                                OUT/busybox.tar.gz busybox:latest
#   OUT/busybox.docker.tar   the same layer as a `docker save` archive with that config:
#                              shoal image load -i OUT/busybox.docker.tar
#
# Usage: pack-busybox.sh [OUT]   (default build/images; BUSYBOX=path overrides /bin/busybox)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
out=${1:-build/images}
busybox=${BUSYBOX:-/bin/busybox}
if [[ ! -x "$busybox" ]]; then
	echo "pack-busybox: $busybox not found; install it with: apt-get install busybox-static" >&2
	exit 1
fi
if ldd "$busybox" >/dev/null 2>&1; then
	echo "pack-busybox: $busybox is dynamically linked; install busybox-static instead of busybox" >&2
	exit 1
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

root=$work/rootfs
mkdir -p "$root/bin" "$root/tmp" "$root/root"
chmod 0755 "$root" "$root/bin"
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
install -m 0755 "$busybox" "$root/bin/busybox"
while read -r applet; do
	[[ "$applet" == bin/busybox ]] && continue
	mkdir -p "$root/$(dirname "$applet")"
	ln -sf /bin/busybox "$root/$applet"
done < <("$busybox" --list-full)
for want in bin/sh bin/ls bin/cat; do
	[[ -L "$root/$want" ]] || { echo "pack-busybox: $busybox has no ${want#bin/} applet" >&2; exit 1; }
done
write_minimal_etc "$root"

pack_rootfs "$root" "$work/layer.tar"
gzip -n -9 -c "$work/layer.tar" >"$out/busybox.tar.gz"
write_docker_save "$work/layer.tar" "busybox:latest" \
	"{\"Env\":[\"PATH=$DEFAULT_PATH\"],\"Cmd\":[\"sh\"]}" "$out/busybox.docker.tar"
echo "packed $out/busybox.tar.gz and $out/busybox.docker.tar"
