namespace ControlPlane.Engine.Cuda;

internal static partial class KernelSource
{
    /// <summary>paged_decode_tc: decode attention on tensor cores, the GROUP query heads of a KV head as the rows of one tile.</summary>
    private const string DecodeTc = """

// Decode attention on tensor cores (sm_80 and later, bf16/fp16; uses the prefill part's cp.async, score, online-softmax
// and P·V helpers): grid (partitions, KV_HEADS, batch), block 128, the same partial outputs as paged_decode (its reduce
// combines them; with one partition and out given the kernel writes the output itself and no reduce runs). The GROUP query heads that
// share a KV head are the rows of a 16-row tile (rows past GROUP are zero), so keys and values are read once for the group
// and the dot products cost a few mma.sync instead of lanes' FMAs and shuffles: the scalar kernel runs out of instruction
// issue before memory bandwidth on the faster GPUs. The partition's tokens go through shared memory 64 at a time
// (cp.async, DSTAGES stages: two unless tuned), each warp taking 16 of them with its own online softmax; the four warps'
// maxima, sums and outputs are combined at the end.
#if T_KIND != 0 && (HEAD_DIM == 32 || HEAD_DIM == 64 || HEAD_DIM == 128) && GROUP <= 16
#define DBN 64
#define DSTAGE (2 * DBN * KPAD)
#ifndef DSTAGES
#define DSTAGES 2
#endif

// Queues the keys and values of tokens kb..kb+DBN-1 (zeros past end) into one stage: [DBN][KPAD] keys, then values.
__device__ __forceinline__ void decode_tc_load(u16* stage, const T* __restrict__ kc, const T* __restrict__ vc,
  const i64* blocks, int first_block, int kvh, int kb, int end)
{
  for (int i = threadIdx.x; i < DBN * DCH; i += 128) {
    const int r = i / DCH, c = i % DCH, j = kb + r;
    const bool valid = j < end;
    i64 off = 0;
    if (valid) off = ((blocks[j / BLOCK_SIZE - first_block] * BLOCK_SIZE + j % BLOCK_SIZE) * KV_HEADS + kvh) * HEAD_DIM + c * 8;
    cp_async16(stage + r * KPAD + c * 8, kc + off, valid);
    cp_async16(stage + DBN * KPAD + r * KPAD + c * 8, vc + off, valid);
  }
}

// Rows g and g + 8 of the tile are query heads kvh * GROUP + g and + 8, where they exist: their A fragments of q.
__device__ __forceinline__ void decode_tc_queries(unsigned (&qf)[HEAD_DIM / 16][4], const T* __restrict__ q, int b, int kvh, int g, int tig)
{
  const T* q_lo = q + ((i64)b * HEADS + kvh * GROUP + g) * HEAD_DIM;
  const T* q_hi = q_lo + 8 * HEAD_DIM;
#pragma unroll
  for (int kk = 0; kk < HEAD_DIM / 16; kk++) {
    const int d = kk * 16 + tig * 2;
    qf[kk][0] = g < GROUP ? *(const unsigned*)(q_lo + d) : 0u;
    qf[kk][1] = g + 8 < GROUP ? *(const unsigned*)(q_hi + d) : 0u;
    qf[kk][2] = g < GROUP ? *(const unsigned*)(q_lo + d + 8) : 0u;
    qf[kk][3] = g + 8 < GROUP ? *(const unsigned*)(q_hi + d + 8) : 0u;
  }
}

// This warp's 16 tokens (from wb, those before end) of a 64-token chunk whose keys and values are in stage st: scores,
// the online softmax and P·V into the warp's accumulators.
__device__ __forceinline__ void decode_tc_chunk(const u16* st, int wb, int end, int warp, int lane, int tig, float scale_log2,
  const unsigned (&qf)[HEAD_DIM / 16][4], float (&o)[HEAD_DIM / 8][4], float& m_lo, float& m_hi, float& l_lo, float& l_hi)
{
  if (wb >= end) return;
  const u16* ks = st + warp * 16 * KPAD;
  const u16* vs = ks + DBN * KPAD;
  float s[2][4];
  scores_tile<2>(s, qf, ks, lane);
  float mx_lo = m_lo, mx_hi = m_hi;
#pragma unroll
  for (int nt = 0; nt < 2; nt++) {
#pragma unroll
    for (int e = 0; e < 2; e++) {
      const bool in = wb + nt * 8 + tig * 2 + e < end;
      const float a = in ? s[nt][e] * scale_log2 : NEG_INF, c = in ? s[nt][2 + e] * scale_log2 : NEG_INF;
      s[nt][e] = a; s[nt][2 + e] = c;
      mx_lo = fmaxf(mx_lo, a); mx_hi = fmaxf(mx_hi, c);
    }
  }
  unsigned pf[1][4];
  softmax_step<2>(s, mx_lo, mx_hi, m_lo, m_hi, l_lo, l_hi, o, pf);
  pv_tile(o, pf[0], vs, lane);
}

// A partition's result from its four warps' rows (their maxima in log2 units, sums and unnormalised outputs), combined
// through sm (room for [4][GROUP][HEAD_DIM] + 2 × [4][GROUP] floats, free of anything in flight) and written as
// paged_decode writes it: the output itself where the context is one partition and out is given, else the partials.
__device__ __forceinline__ void decode_tc_finish(float* sm, const float (&o)[HEAD_DIM / 8][4], float m_lo, float m_hi, float l_lo, float l_hi,
  int b, int p, int kvh, int parts, int warp, int g, int tig,
  float* __restrict__ part_acc, float* __restrict__ part_max, float* __restrict__ part_sum, T* __restrict__ out)
{
  l_lo += __shfl_xor_sync(0xffffffffu, l_lo, 1); l_lo += __shfl_xor_sync(0xffffffffu, l_lo, 2);
  l_hi += __shfl_xor_sync(0xffffffffu, l_hi, 1); l_hi += __shfl_xor_sync(0xffffffffu, l_hi, 2);
  float* sm_o = sm;                                // [4][GROUP][HEAD_DIM]
  float* sm_m = sm_o + 4 * GROUP * HEAD_DIM;       // [4][GROUP]
  float* sm_l = sm_m + 4 * GROUP;                  // [4][GROUP]
  if (g < GROUP) {
#pragma unroll
    for (int dt = 0; dt < HEAD_DIM / 8; dt++) {
      sm_o[(warp * GROUP + g) * HEAD_DIM + dt * 8 + tig * 2] = o[dt][0];
      sm_o[(warp * GROUP + g) * HEAD_DIM + dt * 8 + tig * 2 + 1] = o[dt][1];
    }
    if (tig == 0) { sm_m[warp * GROUP + g] = m_lo; sm_l[warp * GROUP + g] = l_lo; }
  }
  if (g + 8 < GROUP) {
#pragma unroll
    for (int dt = 0; dt < HEAD_DIM / 8; dt++) {
      sm_o[(warp * GROUP + g + 8) * HEAD_DIM + dt * 8 + tig * 2] = o[dt][2];
      sm_o[(warp * GROUP + g + 8) * HEAD_DIM + dt * 8 + tig * 2 + 1] = o[dt][3];
    }
    if (tig == 0) { sm_m[warp * GROUP + g + 8] = m_hi; sm_l[warp * GROUP + g + 8] = l_hi; }
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < GROUP * HEAD_DIM; idx += 128) {
    const int r = idx / HEAD_DIM, d = idx % HEAD_DIM;
    float mx = NEG_INF;
#pragma unroll
    for (int w = 0; w < 4; w++) mx = fmaxf(mx, sm_m[w * GROUP + r]);
    float sum = 0.f, a = 0.f;
#pragma unroll
    for (int w = 0; w < 4; w++) {
      const float mw = sm_m[w * GROUP + r];
      const float f = mw == NEG_INF ? 0.f : exp2f(mw - mx);
      sum += f * sm_l[w * GROUP + r];
      a += f * sm_o[(w * GROUP + r) * HEAD_DIM + d];
    }
    if (parts == 1 && out) {   // the whole context in one partition: the output itself, as the reduce would make it of one partial
      out[((i64)b * HEADS + kvh * GROUP + r) * HEAD_DIM + d] = to_t(a / sum);
      continue;
    }
    const i64 at = ((i64)b * HEADS + kvh * GROUP + r) * parts + p;
    part_acc[at * HEAD_DIM + d] = a;
    if (d == 0) { part_max[at] = mx * 0.6931471805599453f; part_sum[at] = sum; }   // natural-log units, as the reduce reads them
  }
}

extern "C" __global__ void __launch_bounds__(128) paged_decode_tc(
  const T* __restrict__ q, const T* __restrict__ kc, const T* __restrict__ vc,
  const i64* __restrict__ tables, int table_stride, const i64* __restrict__ lens,
  float* __restrict__ part_acc, float* __restrict__ part_max, float* __restrict__ part_sum, T* __restrict__ out,
  int part_tokens, float scale_log2)
{
  extern __shared__ __align__(16) u16 smem[];   // DSTAGES stages of DSTAGE elements; the warps' results at the end
  __shared__ i64 blocks[MAX_PART_BLOCKS];
  GRID_DEPENDENTS();
  const int p = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z, parts = gridDim.x;
  const int len = (int)lens[b];
  const int start = p * part_tokens;
  if (start >= len) return;
  const int end = min(len, start + part_tokens);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, tig = lane & 3;
  const int first_block = start / BLOCK_SIZE;
  const int block_count = (end - 1) / BLOCK_SIZE - first_block + 1;
  for (int i = threadIdx.x; i < block_count; i += 128) blocks[i] = tables[(i64)b * table_stride + first_block + i];
  __syncthreads();
  GRID_WAIT();   // lengths and block tables are the step's inputs; the newest token's keys and values and q are not
  const int chunks = (end - start + DBN - 1) / DBN;
#pragma unroll
  for (int c = 0; c < DSTAGES - 1; c++) {   // the first stages in flight before any is used
    if (c < chunks) decode_tc_load(smem + c * DSTAGE, kc, vc, blocks, first_block, kvh, start + c * DBN, end);
    cp_async_commit();
  }

  unsigned qf[HEAD_DIM / 16][4];
  decode_tc_queries(qf, q, b, kvh, g, tig);
  float o[HEAD_DIM / 8][4];
#pragma unroll
  for (int dt = 0; dt < HEAD_DIM / 8; dt++) { o[dt][0] = 0.f; o[dt][1] = 0.f; o[dt][2] = 0.f; o[dt][3] = 0.f; }
  float m_lo = NEG_INF, m_hi = NEG_INF, l_lo = 0.f, l_hi = 0.f;

  for (int t = 0; t < chunks; t++) {
    const int kb = start + t * DBN;
    const int ahead = t + DSTAGES - 1;
    if (ahead < chunks) decode_tc_load(smem + (ahead % DSTAGES) * DSTAGE, kc, vc, blocks, first_block, kvh, start + ahead * DBN, end);
    cp_async_commit();
    cp_async_wait_n<DSTAGES - 1>();   // all but the groups queued after this chunk's: it has landed
    __syncthreads();
    decode_tc_chunk(smem + (t % DSTAGES) * DSTAGE, kb + warp * 16, end, warp, lane, tig, scale_log2, qf, o, m_lo, m_hi, l_lo, l_hi);
    __syncthreads();   // this stage is read by all before the next iteration refills it
  }

  decode_tc_finish((float*)smem, o, m_lo, m_hi, l_lo, l_hi, b, p, kvh, parts, warp, g, tig, part_acc, part_max, part_sum, out);
}
#endif

""";
}
