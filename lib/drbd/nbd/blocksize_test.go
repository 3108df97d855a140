package nbd

import "testing"

type sized struct {
	Backend
	min uint32
}

func (s sized) MinBlockSize() uint32 { return s.min }

func TestMinBlockSize(t *testing.T) {
	for _, c := range []struct {
		b    Backend
		want uint32
	}{
		{&File{}, 1},
		{sized{min: 512}, 512},
		{sized{min: 4096}, 4096},
		{sized{min: 0}, 1},
		{sized{min: 768}, 1},  // not a power of two
		{sized{min: 8192}, 1}, // above the preferred block size
	} {
		if got := minBlockSize(c.b); got != c.want {
			t.Errorf("%T %+v: %d, want %d", c.b, c.b, got, c.want)
		}
	}
}
