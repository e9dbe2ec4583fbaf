# DKV_SPLIT decode attention (KernelSource.DecodeTc.cs): its cp.async schedule emulated. Keys and values of chunk t are
# items K(t), V(t) in slots 2t % 3 and (2t + 1) % 3; each load is its own group; at cp_async_wait_n<2> all groups but the
# last two are complete. Checks every read finds its item landed in its slot and no load overwrites an unread item.
# Run: python3 tests/ControlPlane.Engine.Benchmarks/kv_split_schedule.py
def run(chunks):
    groups = []            # list of (item or None)
    slot_item = {}         # slot -> item loaded (maybe pending)
    landed = set()
    read_done = set()
    def load(item, slot):
        if slot in slot_item:
            prev = slot_item[slot]
            assert prev in read_done, f"chunks {chunks}: item {prev} in slot {slot} overwritten before read"
        slot_item[slot] = item
    def commit(item): groups.append(item)
    def wait2():
        for it in groups[:max(0, len(groups) - 2)]:
            if it is not None: landed.add(it)
    def read(item, slot):
        assert item in landed, f"chunks {chunks}: item {item} read before landed"
        assert slot_item.get(slot) == item, f"chunks {chunks}: slot {slot} holds {slot_item.get(slot)}, wanted {item}"
    K = lambda t: ('K', t); V = lambda t: ('V', t)
    load(K(0), 0); commit(K(0)); load(V(0), 1); commit(V(0))
    if chunks > 1: load(K(1), 2); commit(K(1))
    else: commit(None)
    for t in range(chunks):
        wait2(); read(K(t), (2*t) % 3); read_done.add(K(t))   # barrier after scores
        if t + 1 < chunks: load(V(t+1), (2*t+3) % 3); commit(V(t+1))
        else: commit(None)
        wait2(); read(V(t), (2*t+1) % 3); read_done.add(V(t))   # barrier after PV
        if t + 2 < chunks: load(K(t+2), (2*t+4) % 3); commit(K(t+2))
        else: commit(None)
    return True
for c in range(1, 40): run(c)
print('schedule ok for 1..39 chunks')
