// Package seqspan owns the set of sequence-number ranges that the stream
// checkers keep (`rfidgw tail`, the hub's audit): seqs seen, reported as
// holes, or named by gap events. It is a leaf package.
package seqspan

import (
	"slices"
	"sort"
)

// Span is an inclusive range of seqs.
type Span struct{ Lo, Hi uint64 }

// Set is a sorted list of disjoint, non-adjacent spans.
type Set []Span

// Find returns the index of the first span with Hi >= x.
func (s Set) Find(x uint64) int {
	return sort.Search(len(s), func(i int) bool { return s[i].Hi >= x })
}

// Contains reports whether x is in the set.
func (s Set) Contains(x uint64) bool {
	i := s.Find(x)
	return i < len(s) && s[i].Lo <= x
}

// Add inserts [lo, hi], merging what it touches.
func (s *Set) Add(lo, hi uint64) {
	ss := *s
	i := ss.Find(lo - min(lo, 1)) // a span ending at lo-1 merges too
	j := i
	for j < len(ss) && ss[j].Lo <= hi+1 {
		lo, hi = min(lo, ss[j].Lo), max(hi, ss[j].Hi)
		j++
	}
	*s = slices.Replace(ss, i, j, Span{lo, hi})
}

// Remove takes x out of the set; it reports whether x was in it.
func (s *Set) Remove(x uint64) bool {
	ss := *s
	i := ss.Find(x)
	if i >= len(ss) || ss[i].Lo > x {
		return false
	}
	sp := ss[i]
	switch {
	case sp.Lo == x && sp.Hi == x:
		*s = slices.Delete(ss, i, i+1)
	case sp.Lo == x:
		ss[i].Lo++
	case sp.Hi == x:
		ss[i].Hi--
	default:
		*s = slices.Insert(ss, i+1, Span{x + 1, sp.Hi})
		(*s)[i].Hi = x - 1
	}
	return true
}

// Overlap counts the seqs of [lo, hi] in the set.
func (s Set) Overlap(lo, hi uint64) uint64 {
	n := uint64(0)
	for _, sp := range s[s.Find(lo):] {
		if sp.Lo > hi {
			break
		}
		n += min(sp.Hi, hi) - max(sp.Lo, lo) + 1
	}
	return n
}
