package iobuf

import "testing"

func TestAligned(t *testing.T) {
	for _, n := range []int{1, 512, 4096, 4097, 1 << 20} {
		b := Aligned(n)
		if len(b) != n || cap(b) != n || !IsAligned(b, Align) {
			t.Fatalf("Aligned(%d): len %d cap %d aligned %v", n, len(b), cap(b), IsAligned(b, Align))
		}
		for _, off := range []int{0, 24, 4095} {
			b := Offset(n+off, off)
			if len(b) != n+off || !IsAligned(b[off:], Align) {
				t.Fatalf("Offset(%d, %d): len %d, b[off:] aligned %v", n+off, off, len(b), IsAligned(b[off:], Align))
			}
		}
	}
	if IsAligned(Aligned(8192)[1:], 512) {
		t.Fatal("a buffer one byte in is aligned")
	}
}
