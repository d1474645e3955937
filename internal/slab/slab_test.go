package slab

import (
	"testing"
)

func TestMakeNeverOverlaps(t *testing.T) {
	s := New[byte](64)
	var got [][]byte
	for i, n := range []int{0, 1, 5, 16, 16, 17, 3, 40, 16, 2} {
		b := s.Make(n)
		if len(b) != n || cap(b) != n {
			t.Fatalf("Make(%d): len %d cap %d", n, len(b), cap(b))
		}
		for j := range b {
			if b[j] != 0 {
				t.Fatalf("Make(%d) is not zeroed", n)
			}
			b[j] = byte(i + 1)
		}
		got = append(got, b)
	}
	// Each slice still holds what was written to it: none overlaps another,
	// and appending to one reallocates rather than writing past its end.
	for i, b := range got {
		_ = append(b, 0xff)
		for _, v := range b {
			if v != byte(i+1) {
				t.Fatalf("slice %d was overwritten: %v", i, b)
			}
		}
	}
}

func TestLargeAndNil(t *testing.T) {
	s := New[int](16)
	small := s.Make(2)
	big := s.Make(5) // more than a quarter of a block: its own allocation
	if len(s.block) != 2 {
		t.Fatalf("a large request was carved from the block (block len %d)", len(s.block))
	}
	if small[0] != 0 || len(big) != 5 {
		t.Fatal("bad slices")
	}
	var none *Slab[int]
	if b := none.Copy([]int{1, 2}); len(b) != 2 || b[1] != 2 {
		t.Fatalf("nil slab Copy = %v", b)
	}
}

func TestResetStartsANewBlock(t *testing.T) {
	s := New[byte](64)
	a := s.Make(4)
	copy(a, "abcd")
	s.Reset()
	if s.block != nil {
		t.Fatal("Reset kept the block")
	}
	b := s.Make(4)
	copy(b, "wxyz")
	if string(a) != "abcd" || string(b) != "wxyz" || &a[0] == &b[0] {
		t.Fatalf("after Reset: %q %q", a, b)
	}
	var none *Slab[byte]
	none.Reset() // a nil slab has nothing to let go of
}

func BenchmarkMake(b *testing.B) {
	s := New[byte](64 << 10)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Make(280)
	}
}
