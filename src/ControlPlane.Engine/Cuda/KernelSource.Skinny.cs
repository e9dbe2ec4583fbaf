namespace ControlPlane.Engine.Cuda;

internal static partial class KernelSource
{
    /// <summary>The skinny product kernel's module: the element type, the tensor-core helpers and <see cref="Skinny"/>.</summary>
    public const string SkinnyText = Common + TensorCore + Skinny;

    /// <summary>
    /// skinny_gemm: y (+)= x · wᵀ for a decode step's few rows (up to 64) against a whole weight matrix, streaming the
    /// weights once. A separate module, compiled only where asked for (the <c>skinny-gemm</c> benchmark), so the engine's
    /// kernels never depend on it.
    /// </summary>
    private const string Skinny = """

// y[m, n] = x[m, k] · w[n, k]ᵀ (+ residual[m, n]) for m ≤ 64, bf16/fp16 in and out, fp32 accumulators (sm_80 and later).
// Grid (n / SG_BN weight-row tiles, splits of k), block SG_BN / 16 warps: each warp owns 16 weight rows and every row of x.
// k goes through shared memory SG_BK at a time, SG_STAGES stages deep by cp.async: the weights are read once, x (small,
// from L2) once a block. A tile is the mma's "col" operand as the weights lie ([n][k] rows), x the "row" operand. With one
// split the block writes y itself; with several, each writes its partial sums to ws (fp32 [splits][m][n]) and the last
// split of a tile to finish (counters, zero between calls) adds them in split order, so the result is the same bits on
// every run, writes y and sets the counter back to zero.
// Needs k % SG_BK == 0, n % 2 == 0, 16-byte aligned rows.
#if T_KIND != 0
#ifndef SG_BN
#define SG_BN 64
#endif
#ifndef SG_STAGES
#define SG_STAGES 4
#endif
#define SG_BK 64
#define SG_PAD (SG_BK + 8)
#define SG_WARPS (SG_BN / 16)
#define SG_STAGE ((SG_BN + 64) * SG_PAD)

// A stage's weights (SG_BN rows of SG_BK) and its rows of x, each by cp.async into the stage's shared memory.
__device__ __forceinline__ void skinny_load_w(u16* stage, const T* __restrict__ w, int n, int k, int n0, int kb)
{
  for (int i = threadIdx.x; i < SG_BN * (SG_BK / 8); i += SG_WARPS * 32) {
    const int r = i / (SG_BK / 8), c = i % (SG_BK / 8), row = n0 + r;
    const bool valid = row < n;
    cp_async16(stage + r * SG_PAD + c * 8, w + (i64)(valid ? row : 0) * k + kb + c * 8, valid);
  }
}

__device__ __forceinline__ void skinny_load_x(u16* stage, const T* __restrict__ x, int m, int k, int kb)
{
  u16* xs = stage + SG_BN * SG_PAD;
  const int rows = (m + 15) & ~15;
  for (int i = threadIdx.x; i < rows * (SG_BK / 8); i += SG_WARPS * 32) {
    const int r = i / (SG_BK / 8), c = i % (SG_BK / 8);
    const bool valid = r < m;
    cp_async16(xs + r * SG_PAD + c * 8, x + (i64)(valid ? r : 0) * k + kb + c * 8, valid);
  }
}

extern "C" __global__ void __launch_bounds__(SG_WARPS * 32) skinny_gemm(
  const T* __restrict__ x, const T* __restrict__ w, T* y, const T* residual,
  float* __restrict__ ws, unsigned* __restrict__ counters, int m, int n, int k)
{
  extern __shared__ __align__(16) u16 smem[];
  __shared__ int last;
  GRID_DEPENDENTS();
  const int tile = blockIdx.x, split = blockIdx.y, splits = gridDim.y;
  const int n0 = tile * SG_BN;
  const int chunks = k / SG_BK;
  const int c0 = (int)((i64)split * chunks / splits), c1 = (int)((i64)(split + 1) * chunks / splits);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, tig = lane & 3;
  const int mt = (m + 15) >> 4;
  float acc[4][2][4];
#pragma unroll
  for (int i = 0; i < 4; i++)
#pragma unroll
    for (int j = 0; j < 2; j++) { acc[i][j][0] = 0.f; acc[i][j][1] = 0.f; acc[i][j][2] = 0.f; acc[i][j][3] = 0.f; }
  // The first stages' weights do not depend on the kernels before this one: with programmatic dependent launch they
  // stream in while the previous kernel drains. x (and the residual, the scratch) are the previous kernels' outputs, or
  // still theirs in use: read after the wait. The first group thus holds the first stages' weights and x, a superset.
#pragma unroll
  for (int s = 0; s < SG_STAGES - 1; s++)
    if (c0 + s < c1) skinny_load_w(smem + s * SG_STAGE, w, n, k, n0, (c0 + s) * SG_BK);
  GRID_WAIT();
#pragma unroll
  for (int s = 0; s < SG_STAGES - 1; s++) {
    if (c0 + s < c1) skinny_load_x(smem + s * SG_STAGE, x, m, k, (c0 + s) * SG_BK);
    cp_async_commit();
  }
  for (int c = c0; c < c1; c++) {
    cp_async_wait_n<SG_STAGES - 2>();   // this chunk's group has landed
    __syncthreads();                    // and every warp is done with the stage the next load overwrites
    const int next = c + SG_STAGES - 1;
    if (next < c1) {
      u16* stage = smem + ((next - c0) % SG_STAGES) * SG_STAGE;
      skinny_load_w(stage, w, n, k, n0, next * SG_BK);
      skinny_load_x(stage, x, m, k, next * SG_BK);
    }
    cp_async_commit();
    const u16* wsm = smem + ((c - c0) % SG_STAGES) * SG_STAGE;
    const u16* xsm = wsm + SG_BN * SG_PAD;
#pragma unroll
    for (int kk = 0; kk < SG_BK / 16; kk += 2) {
      // B fragments of the warp's two 8-row groups of weights, for k steps kk and kk + 1.
      unsigned b[2][4];
#pragma unroll
      for (int nt = 0; nt < 2; nt++)
        ldsm_x4(b[nt], wsm + (warp * 16 + nt * 8 + (lane & 7)) * SG_PAD + kk * 16 + (lane >> 3) * 8);
#pragma unroll
      for (int mi = 0; mi < 4; mi++) {
        if (mi < mt) {
          unsigned a0[4], a1[4];
          ldsm_x4(a0, xsm + (mi * 16 + (lane & 15)) * SG_PAD + kk * 16 + (lane >> 4) * 8);
          ldsm_x4(a1, xsm + (mi * 16 + (lane & 15)) * SG_PAD + (kk + 1) * 16 + (lane >> 4) * 8);
#pragma unroll
          for (int nt = 0; nt < 2; nt++) {
            mma16816(acc[mi][nt], a0, b[nt][0], b[nt][1]);
            mma16816(acc[mi][nt], a1, b[nt][2], b[nt][3]);
          }
        }
      }
    }
  }
  cp_async_wait_n<0>();

  // acc[mi][nt]: rows mi * 16 + g (+ 8) of x, weight rows (columns of y) n0 + warp * 16 + nt * 8 + 2 * tig (+ 1).
  // One split writes y; several add into ws, and the last of a tile to finish writes y below.
#pragma unroll
  for (int mi = 0; mi < 4; mi++)
#pragma unroll
    for (int nt = 0; nt < 2; nt++)
#pragma unroll
      for (int h = 0; h < 2; h++) {
        const int r = mi * 16 + g + h * 8, col = n0 + warp * 16 + nt * 8 + 2 * tig;
        if (mi < mt && r < m && col < n) {
          float v0 = acc[mi][nt][2 * h], v1 = acc[mi][nt][2 * h + 1];
          const i64 at = (i64)r * n + col;
          if (splits == 1) {
            if (residual) { v0 += from_t(residual[at]); v1 += from_t(residual[at + 1]); }
            *(unsigned*)(y + at) = pack2(v0, v1);
          } else {
            *(float2*)(ws + (i64)split * m * n + at) = make_float2(v0, v1);
          }
        }
      }
  if (splits == 1) return;
  __threadfence();
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(counters + tile, 1u) == (unsigned)(splits - 1);
  __syncthreads();
  if (!last) return;
  __threadfence();
  const int cols = min(SG_BN, n - n0);
  for (int i = threadIdx.x; i < m * (cols / 2); i += SG_WARPS * 32) {
    const int r = i / (cols / 2), col = n0 + 2 * (i % (cols / 2));
    const i64 at = (i64)r * n + col;
    float v0 = 0.f, v1 = 0.f;
    for (int s = 0; s < splits; s++) {
      const float2 p = __ldcg((const float2*)(ws + (i64)s * m * n + at));
      v0 += p.x; v1 += p.y;
    }
    if (residual) { v0 += from_t(residual[at]); v1 += from_t(residual[at + 1]); }
    *(unsigned*)(y + at) = pack2(v0, v1);
  }
  if (threadIdx.x == 0) counters[tile] = 0u;
}
#endif

""";
}
