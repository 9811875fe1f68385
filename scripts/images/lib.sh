# Shared by the pack-*.sh scripts: deterministic root filesystem tarballs and docker-save
# archives, so that packing the same files twice gives byte-identical output (and so the
# same image ID on every node). Source it; do not run it.

# The timestamp every packed file gets, and the image's creation time: SOURCE_DATE_EPOCH,
# else the time of the last commit, else 1970.
pack_epoch() {
	if [[ -n "${SOURCE_DATE_EPOCH:-}" ]]; then
		echo "$SOURCE_DATE_EPOCH"
	else
		git -C "$(dirname "${BASH_SOURCE[0]}")" log -1 --format=%ct 2>/dev/null || echo 0
	fi
}

# pack_rootfs DIR OUT_TAR: tar DIR's contents as a root filesystem, owned by root, sorted,
# every mtime set to the epoch.
pack_rootfs() {
	local dir=$1 out=$2
	tar --create --file "$out" --directory "$dir" \
		--sort=name --owner=0 --group=0 --numeric-owner \
		--mtime="@$(pack_epoch)" --format=gnu .
}

# write_docker_save LAYER_TAR REPO:TAG RUNTIME_CONFIG_JSON OUT: a one-layer `docker save`
# archive (manifest.json, <config>.json, <layer>/layer.tar) whose config carries
# RUNTIME_CONFIG_JSON (the "config" object: Env, Cmd, ...).
write_docker_save() {
	local layer=$1 tag=$2 runtime_config=$3 out=$4
	local epoch created arch diff work cfg cfg_hex
	epoch=$(pack_epoch)
	created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
	arch=$(${GO:-go} env GOARCH)
	diff=$(sha256sum "$layer" | cut -d' ' -f1)
	work=$(mktemp -d)
	mkdir "$work/$diff"
	cp "$layer" "$work/$diff/layer.tar"
	cfg=$(printf '{"architecture":"%s","os":"linux","created":"%s","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"%s","created_by":"scripts/images"}]}' \
		"$arch" "$created" "$runtime_config" "$diff" "$created")
	cfg_hex=$(printf '%s' "$cfg" | sha256sum | cut -d' ' -f1)
	printf '%s' "$cfg" >"$work/$cfg_hex.json"
	printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]\n' "$cfg_hex" "$tag" "$diff" >"$work/manifest.json"
	tar --create --file "$out" --directory "$work" \
		--sort=name --owner=0 --group=0 --numeric-owner \
		--mtime="@$epoch" --format=gnu manifest.json "$cfg_hex.json" "$diff"
	rm -rf "$work"
}

# The PATH docker gives a container whose image sets none.
DEFAULT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# write_minimal_etc ROOT: /etc/passwd and /etc/group with root and nobody.
write_minimal_etc() {
	local root=$1
	mkdir -p "$root/etc"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
	chmod 0644 "$root/etc/passwd" "$root/etc/group"
}
