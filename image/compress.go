package image

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"io"

	"github.com/klauspost/compress/zstd"
)

var (
	magicGzip  = []byte{0x1f, 0x8b}
	magicBzip2 = []byte("BZh")
	magicZstd  = []byte{0x28, 0xb5, 0x2f, 0xfd}
	magicXz    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
)

// decompress returns the uncompressed stream of r, which may be a plain tar or one
// compressed with gzip, zstd or bzip2, told apart by its first bytes. Empty input is an
// error: it is never a tar anyone meant to send.
func decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(len(magicXz))
	if len(head) == 0 {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, badInputf("the archive is empty; expected a tar, plain or compressed with gzip, zstd or bzip2")
		}
		return nil, err
	}
	switch {
	case bytes.HasPrefix(head, magicGzip):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, badInputf("reading gzip stream: %v", err)
		}
		return zr, nil
	case bytes.HasPrefix(head, magicZstd):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, badInputf("reading zstd stream: %v", err)
		}
		return zr.IOReadCloser(), nil
	case bytes.HasPrefix(head, magicBzip2):
		return io.NopCloser(bzip2.NewReader(br)), nil
	case bytes.HasPrefix(head, magicXz):
		return nil, badInputf("xz-compressed archives are not supported; use a plain tar or gzip, zstd or bzip2")
	}
	return io.NopCloser(br), nil
}
