package allocator

import "testing"

func TestBitmapFirstFree(t *testing.T) {
	full := func(b *bitmap, from, to uint32) {
		for i := from; i <= to; i++ {
			b.add(i)
		}
	}
	tests := []struct {
		name     string
		fill     func(b *bitmap)
		from, to uint32
		want     uint32
		ok       bool
	}{
		{name: "empty", fill: func(*bitmap) {}, from: 5, to: 100, want: 5, ok: true},
		{name: "set start", fill: func(b *bitmap) { full(b, 0, 9) }, from: 0, to: 100, want: 10, ok: true},
		{name: "word boundary", fill: func(b *bitmap) { full(b, 0, 63) }, from: 3, to: 100, want: 64, ok: true},
		{name: "full page skipped", fill: func(b *bitmap) { full(b, 0, pageBits) }, from: 1, to: 3 * pageBits, want: pageBits + 1, ok: true},
		{name: "hole in a later page", fill: func(b *bitmap) { full(b, 0, 3*pageBits-1); b.remove(2*pageBits + 77) }, from: 0, to: 3*pageBits - 1, want: 2*pageBits + 77, ok: true},
		{name: "nothing in range", fill: func(b *bitmap) { full(b, 10, 20) }, from: 10, to: 20, ok: false},
		{name: "free bit past to", fill: func(b *bitmap) { full(b, 10, 20) }, from: 12, to: 19, ok: false},
		{name: "single free", fill: func(b *bitmap) { full(b, 0, 200); b.remove(150) }, from: 0, to: 200, want: 150, ok: true},
		{name: "from past the hole", fill: func(b *bitmap) { full(b, 0, 200); b.remove(150) }, from: 151, to: 200, ok: false},
		{name: "top of uint32", fill: func(b *bitmap) { full(b, 1<<32-10, 1<<32-2) }, from: 1<<32 - 10, to: 1<<32 - 1, want: 1<<32 - 1, ok: true},
		{name: "top of uint32 full", fill: func(b *bitmap) { full(b, 1<<32-10, 1<<32-2); b.add(1<<32 - 1) }, from: 1<<32 - 10, to: 1<<32 - 1, ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBitmap()
			tt.fill(&b)
			got, ok := b.firstFree(tt.from, tt.to)
			if ok != tt.ok || (ok && got != tt.want) {
				t.Fatalf("firstFree(%d, %d) = %d, %v; want %d, %v", tt.from, tt.to, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestBitmapAddRemove(t *testing.T) {
	b := newBitmap()
	b.add(7)
	b.add(7)
	if !b.has(7) || b.has(8) || b.pages[0].set != 1 {
		t.Fatalf("after adding 7 twice: has(7)=%v has(8)=%v set=%d", b.has(7), b.has(8), b.pages[0].set)
	}
	b.remove(8) // not set: no change
	b.remove(pageBits * 5)
	if b.pages[0].set != 1 {
		t.Fatalf("removing unset bits changed the count")
	}
	b.remove(7)
	if b.has(7) || len(b.pages) != 0 {
		t.Fatalf("empty page kept after removing its last bit")
	}
}
