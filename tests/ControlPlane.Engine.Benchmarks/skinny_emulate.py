# skinny_emulate.py: skinny_gemm's index math emulated at warp level on the CPU (ldmatrix and mma.m16n8k16 fragments as PTX
# defines them, shared memory filled with NaN so a read of what was never loaded shows), against x·wᵀ (+ residual) for
# ragged m and n, both block sizes, several pipeline depths and k splits. Needs numpy (Debian: /usr/bin/python3 has it).
import numpy as np
BK, PAD = 64, 72

def ldsm_x4(smem, addrs):
    # addrs[lane] = flat element index of the 8-element row lane supplies; matrix j from lanes 8j..8j+7
    regs = np.zeros((32, 4, 2))
    for j in range(4):
        rows = [smem[addrs[8 * j + r]: addrs[8 * j + r] + 8] for r in range(8)]
        for t in range(32):
            regs[t, j] = rows[t // 4][2 * (t % 4): 2 * (t % 4) + 2]
    return regs

def mma(acc, a, b0, b1):
    # a: [32][4][2], b0/b1: [32][2]; acc: [32][4]
    A = np.zeros((16, 16)); B = np.zeros((16, 8))
    for t in range(32):
        g, tig = t // 4, t % 4
        A[g, 2*tig:2*tig+2] = a[t, 0]; A[g+8, 2*tig:2*tig+2] = a[t, 1]
        A[g, 2*tig+8:2*tig+10] = a[t, 2]; A[g+8, 2*tig+8:2*tig+10] = a[t, 3]
        B[2*tig:2*tig+2, g] = b0[t]; B[2*tig+8:2*tig+10, g] = b1[t]
    C = A @ B
    for t in range(32):
        g, tig = t // 4, t % 4
        acc[t, 0] += C[g, 2*tig]; acc[t, 1] += C[g, 2*tig+1]; acc[t, 2] += C[g+8, 2*tig]; acc[t, 3] += C[g+8, 2*tig+1]

def kernel(x, w, residual, m, n, k, BN, STAGES, splits):
    WARPS = BN // 16; STAGE = (BN + 64) * PAD
    y = np.full((m, n), np.nan); ws = np.full((splits, m, n), np.nan); counters = np.zeros((n + BN - 1) // BN, dtype=int)
    xf, wf = x.reshape(-1), w.reshape(-1)
    tiles = (n + BN - 1) // BN
    for split in range(splits):           # blocks run in any order: splits in order here, tiles in turn
        for tile in range(tiles):
            smem = np.full(STAGES * STAGE, np.nan)
            n0 = tile * BN; chunks = k // BK
            c0, c1 = split * chunks // splits, (split + 1) * chunks // splits
            mt = (m + 15) >> 4
            acc = np.zeros((WARPS, 4, 2, 32, 4))
            def load(stage, kb):
                base = stage * STAGE
                for i in range(BN * (BK // 8)):
                    r, c = i // (BK // 8), i % (BK // 8); row = n0 + r; valid = row < n
                    dst = base + r * PAD + c * 8
                    smem[dst:dst+8] = wf[row * k + kb + c * 8: row * k + kb + c * 8 + 8] if valid else 0
                rows = (m + 15) & ~15
                for i in range(rows * (BK // 8)):
                    r, c = i // (BK // 8), i % (BK // 8); valid = r < m
                    dst = base + BN * PAD + r * PAD + c * 8
                    smem[dst:dst+8] = xf[r * k + kb + c * 8: r * k + kb + c * 8 + 8] if valid else 0
            for s in range(STAGES - 1):
                if c0 + s < c1: load(s, (c0 + s) * BK)
            for c in range(c0, c1):
                nxt = c + STAGES - 1
                cur = ((c - c0) % STAGES) * STAGE
                wsm, xsm = cur, cur + BN * PAD
                for warp in range(WARPS):
                    for kk in range(0, BK // 16, 2):
                        b = [ldsm_x4(smem, [wsm + (warp * 16 + nt * 8 + (l & 7)) * PAD + kk * 16 + (l >> 3) * 8 for l in range(32)]) for nt in range(2)]
                        for mi in range(4):
                            if mi < mt:
                                a0 = ldsm_x4(smem, [xsm + (mi * 16 + (l & 15)) * PAD + kk * 16 + (l >> 4) * 8 for l in range(32)])
                                a1 = ldsm_x4(smem, [xsm + (mi * 16 + (l & 15)) * PAD + (kk + 1) * 16 + (l >> 4) * 8 for l in range(32)])
                                for nt in range(2):
                                    mma(acc[warp, mi, nt], a0, b[nt][:, 0], b[nt][:, 1])
                                    mma(acc[warp, mi, nt], a1, b[nt][:, 2], b[nt][:, 3])
                # the load for chunk nxt goes after the barrier that follows this chunk's use in the real kernel: issue it
                # here, after the compute, into the stage the next iteration's barrier has freed
                if nxt < c1: load((nxt - c0) % STAGES, nxt * BK)
            for warp in range(WARPS):
                for lane in range(32):
                    g, tig = lane >> 2, lane & 3
                    for mi in range(4):
                        for nt in range(2):
                            for h in range(2):
                                r, col = mi * 16 + g + h * 8, n0 + warp * 16 + nt * 8 + 2 * tig
                                if mi < mt and r < m and col < n:
                                    v0, v1 = acc[warp, mi, nt, lane, 2 * h], acc[warp, mi, nt, lane, 2 * h + 1]
                                    if splits == 1:
                                        if residual is not None: v0 += residual[r, col]; v1 += residual[r, col + 1]
                                        y[r, col], y[r, col + 1] = v0, v1
                                    else:
                                        ws[split, r, col], ws[split, r, col + 1] = v0, v1
            if splits > 1:
                counters[tile] += 1
                if counters[tile] == splits:
                    cols = min(BN, n - n0)
                    for i in range(m * (cols // 2)):
                        r, col = i // (cols // 2), n0 + 2 * (i % (cols // 2))
                        v0 = sum(ws[s, r, col] for s in range(splits)); v1 = sum(ws[s, r, col + 1] for s in range(splits))
                        if residual is not None: v0 += residual[r, col]; v1 += residual[r, col + 1]
                        y[r, col], y[r, col + 1] = v0, v1
                    counters[tile] = 0
    return y

rng = np.random.default_rng(1)
for (m, n, k, BN, STAGES, splits, res) in [(20, 160, 256, 64, 4, 1, False), (20, 160, 256, 64, 4, 2, True), (33, 144, 384, 128, 3, 3, True), (64, 128, 128, 64, 6, 2, False), (1, 64, 192, 64, 4, 1, True)]:
    x = rng.standard_normal((m, k)); w = rng.standard_normal((n, k)); residual = rng.standard_normal((m, n)) if res else None
    y = kernel(x, w, residual, m, n, k, BN, STAGES, splits)
    ref = x @ w.T + (residual if res else 0)
    print((m, n, k, BN, STAGES, splits, res), 'max err', np.nanmax(np.abs(y - ref)), 'nan', int(np.isnan(y).sum()))
