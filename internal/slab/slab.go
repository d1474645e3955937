// Package slab hands out small slices carved from large shared blocks, so
// that the many values of a hot path that live about as long as each other
// (the rows of a backfill chunk, the messages of a chunk of the
// replication stream, the records of a Kafka batch) cost one allocation per
// block instead of one each.
//
// A block is never reused: it is freed by the garbage collector once no
// slice carved from it is referenced. A slice handed out is therefore the
// caller's for good, and no aliasing can follow from keeping one too long;
// the only cost of keeping one is the rest of its block.
package slab

// Slab carves slices of T from blocks of a fixed number of elements. It is
// not safe for concurrent use. A nil *Slab allocates each slice on its own.
type Slab[T any] struct {
	block []T
	size  int
}

// New returns a Slab whose blocks hold size elements. Requests of more than
// a quarter of a block are allocated on their own, so that a large value
// neither wastes the rest of a block nor keeps one alive.
func New[T any](size int) *Slab[T] {
	return &Slab[T]{size: max(size, 1)}
}

// Make returns a zeroed slice of n elements whose capacity is n, so that
// appending to it never writes into a neighbour.
func (s *Slab[T]) Make(n int) []T {
	if n == 0 {
		return []T{} // empty, but not nil: as make's
	}
	if s == nil || n > s.size/4 {
		return make([]T, n)
	}
	if n > cap(s.block)-len(s.block) {
		s.block = make([]T, 0, s.size)
	}
	start := len(s.block)
	s.block = s.block[:start+n]
	return s.block[start : start+n : start+n]
}

// Reset lets go of the current block: the next Make starts a new one. The
// slices handed out stay valid (a block is never reused); the block is
// freed once none is referenced. An owner resets its slab where a new unit
// of like lifetime begins (the stream, at each chunk of items), so that a
// block keeps alive no more than one unit's values.
func (s *Slab[T]) Reset() {
	if s != nil {
		s.block = nil
	}
}

// Copy returns a copy of src carved from the slab.
func (s *Slab[T]) Copy(src []T) []T {
	dst := s.Make(len(src))
	copy(dst, src)
	return dst
}
