package edge

import "hash/maphash"

// epcIndex maps EPCs to tag indexes: an open-addressing hash table with
// linear probing whose slots hold 32 bits of the hash and the tag index
// (8 bytes a slot, at most 3/4 full), so a tracked tag costs 11–21 bytes
// here against 50–90 in a map[string]int32. The EPC itself lives only in
// tagState. Lookups with an existing EPC never allocate.
type epcIndex struct {
	seed  maphash.Seed
	slots []uint64 // 0 = empty; else hash32<<32 | (tag index + 1)
	n     int
}

func newEPCIndex() epcIndex {
	return epcIndex{seed: maphash.MakeSeed(), slots: make([]uint64, 64)}
}

func (x *epcIndex) hash(epc string) uint32 {
	return uint32(maphash.String(x.seed, epc) >> 32)
}

// find returns the index of the tag with epc.
func (x *epcIndex) find(epc string, tags []tagState) (int32, bool) {
	h := x.hash(epc)
	mask := uint32(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return 0, false
		}
		if uint32(s>>32) == h {
			if ti := int32(uint32(s)) - 1; tags[ti].epc == epc {
				return ti, true
			}
		}
	}
}

// insert adds epc (not present) as tag ti.
func (x *epcIndex) insert(epc string, ti int32) {
	if (x.n+1)*4 > len(x.slots)*3 {
		x.grow()
	}
	x.put(uint64(x.hash(epc))<<32 | uint64(uint32(ti+1)))
	x.n++
}

func (x *epcIndex) put(s uint64) {
	mask := uint32(len(x.slots) - 1)
	i := uint32(s>>32) & mask
	for x.slots[i] != 0 {
		i = (i + 1) & mask
	}
	x.slots[i] = s
}

func (x *epcIndex) grow() {
	old := x.slots
	x.slots = make([]uint64, len(old)*2)
	for _, s := range old {
		if s != 0 {
			x.put(s)
		}
	}
}

// remove deletes tag ti (whose EPC is epc), shifting later entries of its
// probe run back so that no tombstones are needed.
func (x *epcIndex) remove(epc string, ti int32) {
	h := x.hash(epc)
	mask := uint32(len(x.slots) - 1)
	want := uint64(h)<<32 | uint64(uint32(ti+1))
	i := h & mask
	for x.slots[i] != want {
		if x.slots[i] == 0 {
			return
		}
		i = (i + 1) & mask
	}
	for j := i; ; {
		j = (j + 1) & mask
		s := x.slots[j]
		if s == 0 {
			break
		}
		// s stays if its home k lies cyclically in (i, j].
		k := uint32(s>>32) & mask
		if (i <= j && i < k && k <= j) || (i > j && (i < k || k <= j)) {
			continue
		}
		x.slots[i] = s
		i = j
	}
	x.slots[i] = 0
	x.n--
}
