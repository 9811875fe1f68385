package allocator

import "math/bits"

// bitmap is a sparse set of offsets into a subnet, in pages allocated on first use, so a
// /24 costs one small page and even a /8 costs nothing until addresses are handed out.
// Each page counts its set bits, so a search skips full pages (and empty ones) whole.
type bitmap struct {
	pages map[uint32]*bitmapPage
}

const (
	pageWords = 64
	pageBits  = pageWords * 64
)

type bitmapPage struct {
	set   int
	words [pageWords]uint64
}

func newBitmap() bitmap { return bitmap{pages: map[uint32]*bitmapPage{}} }

func (b *bitmap) has(i uint32) bool {
	p := b.pages[i/pageBits]
	return p != nil && p.words[i%pageBits/64]&(1<<(i%64)) != 0
}

func (b *bitmap) add(i uint32) {
	p := b.pages[i/pageBits]
	if p == nil {
		p = &bitmapPage{}
		b.pages[i/pageBits] = p
	}
	w, bit := &p.words[i%pageBits/64], uint64(1)<<(i%64)
	if *w&bit == 0 {
		*w |= bit
		p.set++
	}
}

func (b *bitmap) remove(i uint32) {
	p := b.pages[i/pageBits]
	if p == nil {
		return
	}
	w, bit := &p.words[i%pageBits/64], uint64(1)<<(i%64)
	if *w&bit != 0 {
		*w &^= bit
		p.set--
		if p.set == 0 {
			delete(b.pages, i/pageBits)
		}
	}
}

// firstFree returns the lowest offset in [from, to] that is not set.
func (b *bitmap) firstFree(from, to uint32) (uint32, bool) {
	i := uint64(from)
	for i <= uint64(to) {
		p := b.pages[uint32(i/pageBits)]
		if p == nil {
			return uint32(i), true
		}
		if p.set == pageBits {
			i = (i/pageBits + 1) * pageBits
			continue
		}
		pageEnd := (i/pageBits + 1) * pageBits
		for i < pageEnd && i <= uint64(to) {
			w := ^p.words[i%pageBits/64] >> (i % 64) // free bits from i on
			if w != 0 {
				i += uint64(bits.TrailingZeros64(w))
				if i > uint64(to) {
					return 0, false
				}
				return uint32(i), true
			}
			i = (i/64 + 1) * 64
		}
	}
	return 0, false
}
