namespace ControlPlane.Engine.Cuda;

internal static partial class KernelSource
{
    /// <summary>paged_prefill: every prefill chunk of a step, in tiles of 64 new tokens, on tensor cores.</summary>
    private const string Prefill = """

// Paged prefill attention (tensor cores, sm_80 and later, bf16/fp16): grid (tiles, HEADS), block 128 (four warps
// of 16 query rows), dynamic shared memory for two stages (CudaKernels sets its size). A tile is up to 64 consecutive new tokens of one sequence:
// tiles [n, 4] holds its first row in the batch, its row count, the position of its first row and its sequence (the row
// of the block tables). Keys and values are read in place through the block table, 64 tokens at a time, by cp.async
// into two shared-memory stages (the next tile loads while this one computes); scores and outputs come from mma.sync
// (operands by ldmatrix) with an online softmax in fp32, FlashAttention-2's order of work. Row r attends keys 0..its
// position, so a chunk that continues a prompt reads its cached context exactly as a first chunk reads its own.
#if T_KIND != 0 && (HEAD_DIM == 32 || HEAD_DIM == 64 || HEAD_DIM == 128)
#define PBN 64
#define KPAD (HEAD_DIM + 8)
#define DCH (HEAD_DIM / 8)
#define STAGE (2 * PBN * KPAD)
struct __align__(16) Tile { int row0, rows, pos0, seq; };

// Scores of a warp's 16 query rows (qf, A fragments over the head) against NT × 8 keys in shared memory from ks ([key][KPAD]):
// s[nt] is the C fragment of keys nt * 8 .. + 7.
template <int NT>
__device__ __forceinline__ void scores_tile(float (&s)[NT][4], const unsigned (&qf)[HEAD_DIM / 16][4], const u16* ks, int lane)
{
#pragma unroll
  for (int nt = 0; nt < NT; nt++) {
    s[nt][0] = 0.f; s[nt][1] = 0.f; s[nt][2] = 0.f; s[nt][3] = 0.f;
    const u16* krow = ks + (nt * 8 + (lane & 7)) * KPAD + (lane >> 3) * 8;
#pragma unroll
    for (int kk = 0; kk < HEAD_DIM / 16; kk += 2) {
      unsigned b[4];
      ldsm_x4(b, krow + kk * 16);
      mma16816(s[nt], qf[kk], b[0], b[1]);
      mma16816(s[nt], qf[kk + 1], b[2], b[3]);
    }
  }
}

// Adds P · V to the output accumulators o: pf holds P's A fragments for 16 keys, vs their values in shared memory ([key][KPAD]).
__device__ __forceinline__ void pv_tile(float (&o)[HEAD_DIM / 8][4], const unsigned (&pf)[4], const u16* vs, int lane)
{
  const u16* vrow = vs + ((lane & 7) + ((lane >> 3) & 1) * 8) * KPAD + (lane >> 4) * 8;
#pragma unroll
  for (int dt = 0; dt < HEAD_DIM / 8; dt += 2) {
    unsigned b[4];
    ldsm_x4_trans(b, vrow + dt * 8);
    mma16816(o[dt], pf, b[0], b[1]);
    mma16816(o[dt + 1], pf, b[2], b[3]);
  }
}

// One step of the online softmax for a warp's tile of NT × 8 keys (FlashAttention-2's order): s holds the scores of rows g
// (lo) and g + 8 (hi), scaled to log2 units and masked; mx_lo and mx_hi are this lane's maxima over them and the running
// maxima. Updates the running maxima m and sums l, rescales the output accumulators o, and packs the probabilities into
// pf, the A fragments of P for P·V (16 keys each).
template <int NT>
__device__ __forceinline__ void softmax_step(float (&s)[NT][4], float mx_lo, float mx_hi, float& m_lo, float& m_hi,
  float& l_lo, float& l_hi, float (&o)[HEAD_DIM / 8][4], unsigned (&pf)[NT / 2][4])
{
  mx_lo = fmaxf(mx_lo, __shfl_xor_sync(0xffffffffu, mx_lo, 1)); mx_lo = fmaxf(mx_lo, __shfl_xor_sync(0xffffffffu, mx_lo, 2));
  mx_hi = fmaxf(mx_hi, __shfl_xor_sync(0xffffffffu, mx_hi, 1)); mx_hi = fmaxf(mx_hi, __shfl_xor_sync(0xffffffffu, mx_hi, 2));
  const float ref_lo = mx_lo == NEG_INF ? 0.f : mx_lo, ref_hi = mx_hi == NEG_INF ? 0.f : mx_hi;
  const float c_lo = exp2f(m_lo - ref_lo), c_hi = exp2f(m_hi - ref_hi);
  m_lo = mx_lo; m_hi = mx_hi;
  l_lo *= c_lo; l_hi *= c_hi;
#pragma unroll
  for (int dt = 0; dt < HEAD_DIM / 8; dt++) { o[dt][0] *= c_lo; o[dt][1] *= c_lo; o[dt][2] *= c_hi; o[dt][3] *= c_hi; }
#pragma unroll
  for (int nt = 0; nt < NT; nt++) {
    const float p0 = exp2f(s[nt][0] - ref_lo), p1 = exp2f(s[nt][1] - ref_lo);
    const float p2 = exp2f(s[nt][2] - ref_hi), p3 = exp2f(s[nt][3] - ref_hi);
    l_lo += p0 + p1; l_hi += p2 + p3;
    pf[nt / 2][(nt & 1) * 2] = pack2(p0, p1);
    pf[nt / 2][(nt & 1) * 2 + 1] = pack2(p2, p3);
  }
}

// Queues keys and values kb..kb+PBN-1 (zeros past key_end) into one stage: [PBN][KPAD] keys, then values.
__device__ __forceinline__ void prefill_load(u16* stage, const T* __restrict__ kc, const T* __restrict__ vc,
  const i64* __restrict__ table, int kvh, int kb, int key_end)
{
  for (int i = threadIdx.x; i < PBN * DCH; i += 128) {
    const int r = i / DCH, c = i % DCH, j = kb + r;
    const bool valid = j < key_end;
    i64 off = 0;
    if (valid) off = ((table[j / BLOCK_SIZE] * BLOCK_SIZE + j % BLOCK_SIZE) * KV_HEADS + kvh) * HEAD_DIM + c * 8;
    cp_async16(stage + r * KPAD + c * 8, kc + off, valid);
    cp_async16(stage + PBN * KPAD + r * KPAD + c * 8, vc + off, valid);
  }
}

extern "C" __global__ void __launch_bounds__(128) paged_prefill(
  const T* __restrict__ q, const T* __restrict__ kc, const T* __restrict__ vc, const Tile* __restrict__ tiles,
  const i64* __restrict__ tables, int table_stride, T* __restrict__ out, float scale_log2)
{
  extern __shared__ __align__(16) u16 smem[];   // two stages of STAGE elements
  GRID_DEPENDENTS();
  GRID_WAIT();
  const Tile tile = tiles[blockIdx.x];
  const int h = blockIdx.y, kvh = h / GROUP;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, tig = lane & 3;
  const i64* table = tables + (i64)tile.seq * table_stride;
  const int key_end = tile.pos0 + tile.rows;
  const int tiles_k = (key_end + PBN - 1) / PBN;
  const int r_lo = warp * 16 + g, r_hi = r_lo + 8;
  const int p_lo = tile.pos0 + r_lo, p_hi = tile.pos0 + r_hi;
  const bool warp_rows = warp * 16 < tile.rows;
  const int warp_last = tile.pos0 + min(tile.rows - 1, warp * 16 + 15);

  prefill_load(smem, kc, vc, table, kvh, 0, key_end);
  cp_async_commit();

  unsigned qf[HEAD_DIM / 16][4];
  const T* q_lo = q + ((i64)(tile.row0 + r_lo) * HEADS + h) * HEAD_DIM;
  const T* q_hi = q + ((i64)(tile.row0 + r_hi) * HEADS + h) * HEAD_DIM;
#pragma unroll
  for (int kk = 0; kk < HEAD_DIM / 16; kk++) {
    const int d = kk * 16 + tig * 2;
    qf[kk][0] = r_lo < tile.rows ? *(const unsigned*)(q_lo + d) : 0u;
    qf[kk][1] = r_hi < tile.rows ? *(const unsigned*)(q_hi + d) : 0u;
    qf[kk][2] = r_lo < tile.rows ? *(const unsigned*)(q_lo + d + 8) : 0u;
    qf[kk][3] = r_hi < tile.rows ? *(const unsigned*)(q_hi + d + 8) : 0u;
  }
  float o[HEAD_DIM / 8][4];
#pragma unroll
  for (int dt = 0; dt < HEAD_DIM / 8; dt++) { o[dt][0] = 0.f; o[dt][1] = 0.f; o[dt][2] = 0.f; o[dt][3] = 0.f; }
  float m_lo = NEG_INF, m_hi = NEG_INF, l_lo = 0.f, l_hi = 0.f;

  for (int t = 0; t < tiles_k; t++) {
    const int kb = t * PBN;
    if (t + 1 < tiles_k) prefill_load(smem + ((t + 1) & 1) * STAGE, kc, vc, table, kvh, kb + PBN, key_end);
    cp_async_commit();
    cp_async_wait_one();   // all but the group just queued: this tile has landed
    __syncthreads();
    const u16* ks = smem + (t & 1) * STAGE;
    const u16* vs = ks + PBN * KPAD;
    if (warp_rows && kb <= warp_last) {   // else none of these keys is visible to this warp's rows
      float s[PBN / 8][4];
      scores_tile<PBN / 8>(s, qf, ks, lane);
      const bool edge = kb + PBN - 1 > tile.pos0 + warp * 16;   // some key here lies past some row's position
      float mx_lo = m_lo, mx_hi = m_hi;
#pragma unroll
      for (int nt = 0; nt < PBN / 8; nt++) {
#pragma unroll
        for (int e = 0; e < 2; e++) {
          const int j = kb + nt * 8 + tig * 2 + e;
          float a = s[nt][e] * scale_log2, b = s[nt][2 + e] * scale_log2;
          if (edge) { if (j > p_lo) a = NEG_INF; if (j > p_hi) b = NEG_INF; }
          s[nt][e] = a; s[nt][2 + e] = b;
          mx_lo = fmaxf(mx_lo, a); mx_hi = fmaxf(mx_hi, b);
        }
      }
      unsigned pf[PBN / 16][4];
      softmax_step<PBN / 8>(s, mx_lo, mx_hi, m_lo, m_hi, l_lo, l_hi, o, pf);
#pragma unroll
      for (int kk = 0; kk < PBN / 16; kk++) pv_tile(o, pf[kk], vs + kk * 16 * KPAD, lane);
    }
    __syncthreads();   // this stage is read by all before the next iteration refills it
  }
  l_lo += __shfl_xor_sync(0xffffffffu, l_lo, 1); l_lo += __shfl_xor_sync(0xffffffffu, l_lo, 2);
  l_hi += __shfl_xor_sync(0xffffffffu, l_hi, 1); l_hi += __shfl_xor_sync(0xffffffffu, l_hi, 2);
  const float inv_lo = l_lo > 0.f ? 1.f / l_lo : 0.f, inv_hi = l_hi > 0.f ? 1.f / l_hi : 0.f;
  T* o_lo = out + (i64)(tile.row0 + r_lo) * (HEADS * HEAD_DIM) + h * HEAD_DIM + tig * 2;
  T* o_hi = out + (i64)(tile.row0 + r_hi) * (HEADS * HEAD_DIM) + h * HEAD_DIM + tig * 2;
#pragma unroll
  for (int dt = 0; dt < HEAD_DIM / 8; dt++) {
    if (r_lo < tile.rows) *(unsigned*)(o_lo + dt * 8) = pack2(o[dt][0] * inv_lo, o[dt][1] * inv_lo);
    if (r_hi < tile.rows) *(unsigned*)(o_hi + dt * 8) = pack2(o[dt][2] * inv_hi, o[dt][3] * inv_hi);
  }
}
#endif

""";
}
