#!/usr/bin/env bash
# Builds the sample app (cmd/sleepy) static for versions 1 and 2 and packs each as
#
#   OUT/sleepy-N.tar.gz      a root filesystem (/sleepy, /etc/passwd, /etc/group, /tmp);
#                            import it with
#                              shoal image import \
#                                --change 'CMD ["/sleepy"]' --change 'ENV SLEEPY_VERSION=N' \
#                                OUT/sleepy-N.tar.gz sleepy:N
#   OUT/sleepy-N.docker.tar  the same layer as a `docker save` archive with that config
#                            baked in: shoal image load -i OUT/sleepy-N.docker.tar
#
# The version is also built into the binary (-X main.version=N), so either way the app
# answers with X-Sleepy-Version: N. Usage: pack-sleepy.sh [OUT]   (default build/images)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
GO=${GO:-go}
out=${1:-build/images}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for v in 1 2; do
	root=$work/sleepy-$v
	mkdir -p "$root/tmp"
	chmod 0755 "$root"
	chmod 1777 "$root/tmp"
	(cd "$repo" && CGO_ENABLED=0 $GO build -trimpath -buildvcs=false \
		-ldflags "-s -w -X main.version=$v" -o "$root/sleepy" ./cmd/sleepy)
	chmod 0755 "$root/sleepy"
	write_minimal_etc "$root"

	pack_rootfs "$root" "$work/layer-$v.tar"
	gzip -n -9 -c "$work/layer-$v.tar" >"$out/sleepy-$v.tar.gz"
	write_docker_save "$work/layer-$v.tar" "sleepy:$v" \
		"{\"Env\":[\"PATH=$DEFAULT_PATH\",\"SLEEPY_VERSION=$v\"],\"Cmd\":[\"/sleepy\"],\"ExposedPorts\":{\"8080/tcp\":{}}}" \
		"$out/sleepy-$v.docker.tar"
	echo "packed $out/sleepy-$v.tar.gz and $out/sleepy-$v.docker.tar"
done
