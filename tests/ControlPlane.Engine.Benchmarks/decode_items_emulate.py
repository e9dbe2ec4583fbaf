"""CPU emulation of paged_decode_tc_items' control flow (KernelSource.DecodeTc.cs, tuning DITEMS): for random batches,
lengths, partition sizes and DITEMS, every (sequence, partition) with tokens is taken by exactly one block, its chunks
are loaded (DSTAGES - 1 ahead, into the stage the compute reads) and computed in order with the item's own token
range, its accumulators reset at its first chunk and its result written after its last. Run: python3 this file."""
import random

DBN = 64


def emulate(batch, parts, part_tokens, lens, ditems, dstages):
    grid = (batch * parts + ditems - 1) // ditems
    seen = []          # (b, p, chunk index, kb) in compute order, all blocks
    written = []       # (b, p) in write order
    for x in range(grid):
        items, chunk0, chunks = [], [], 0
        for i in range(ditems):
            w = x + i * grid
            if w >= batch * parts:
                break
            b, p = divmod(w, parts)
            start = p * part_tokens
            if start >= lens[b]:
                continue
            end = min(lens[b], start + part_tokens)
            items.append((b, p, start, end))
            chunk0.append(chunks)
            chunks += (end - start + DBN - 1) // DBN
        chunk0 += [chunks] * (ditems + 1 - len(chunk0))
        total = chunk0[ditems]
        if total == 0:
            continue
        stage = {}

        def load(c):
            i = 0
            while chunk0[i + 1] <= c:
                i += 1
            b, p, start, end = items[i]
            stage[c % dstages] = (b, p, start + (c - chunk0[i]) * DBN, end)

        for c in range(dstages - 1):
            if c < total:
                load(c)
        item = -1
        for t in range(total):
            if t + dstages - 1 < total:
                load(t + dstages - 1)
            if item < 0 or t == chunk0[item + 1]:
                item += 1
                acc = []
            b, p, start, end = items[item]
            kb = start + (t - chunk0[item]) * DBN
            assert stage[t % dstages] == (b, p, kb, end), (x, t, stage[t % dstages], (b, p, kb, end))
            assert kb < end
            acc.append(kb)
            seen.append((b, p, kb))
            if t + 1 < chunk0[item + 1]:
                continue
            assert acc == list(range(start, end, DBN)), (acc, start, end)
            written.append((b, p))
    expected = [(b, p) for b in range(batch) for p in range(parts) if p * part_tokens < lens[b]]
    assert sorted(written) == expected, (sorted(written), expected)
    assert len(seen) == len(set(seen))


random.seed(1)
cases = 0
for _ in range(3000):
    batch = random.choice([1, 2, 3, 8, 24, 64])
    part_tokens = random.choice([64, 96, 128, 256, 512, 1024])
    width = random.choice([256, 1024, 4096])
    parts = (width + part_tokens - 1) // part_tokens
    lens = [random.randint(1, width) for _ in range(batch)]
    emulate(batch, parts, part_tokens, lens, random.choice([1, 2, 3, 4, 8]), random.choice([2, 3, 4]))
    cases += 1
print(f"{cases} cases: every item once, its chunks in order from the right stage, written after its last chunk")
