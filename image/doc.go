// Package image is a node's content-addressed image store. It turns root filesystem
// tarballs (`image import`), `docker save` archives and OCI image layout archives
// (`image load`) into images whose layers are unpacked once, by digest, into directories
// that an overlayfs mount stacks as lowerdirs.
//
// Identity follows docker: an image's ID is the sha256 of its config JSON, and a layer is
// named by its diffID, the sha256 of its uncompressed tar, so the same content imported or
// loaded twice is stored once. The repo digest an image answers to (what the docker CLI pins
// a service to through `GET /distribution/{name}/json`) is the digest of an OCI manifest the
// store synthesises from the config and the uncompressed layers; it depends only on content,
// so every node holding the same image answers the same digest.
//
// On disk, under the store's root:
//
//	index.json                      repo tags of every image (replaced atomically)
//	configs/sha256/<hex>            an image config, byte for byte; <hex> is the image ID
//	layers/sha256/<hex>/fs          an unpacked layer; <hex> is its diffID
//	layers/sha256/<hex>/layer.json  the layer's sizes
//	tmp/                            work in progress; emptied by Open
//
// Every new file or layer is built under tmp/ and renamed into place, and index.json is
// written last, so a crash leaves at worst unreferenced configs and layers, which Open
// collects. Tar whiteouts become overlayfs whiteouts (a 0/0 character device; the
// trusted.overlay.opaque xattr for an opaque directory), so unpacking needs root.
package image
