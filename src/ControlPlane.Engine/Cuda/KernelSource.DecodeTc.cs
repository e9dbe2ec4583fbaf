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

// Element d of head x rotated by its position's angles (cos_row, sin_row: the position's table rows), rounded as
// rope_qkv rounds it.
__device__ __forceinline__ float rope_at(const T* x, const T* cos_row, const T* sin_row, int d)
{
  const int half = HEAD_DIM / 2;
  const float v = from_t(x[d]), c = from_t(cos_row[d]), s = from_t(sin_row[d]);
  return d < half ? rnd(v * c) + rnd(-from_t(x[d + half]) * s) : rnd(v * c) + rnd(from_t(x[d - half]) * s);
}

// The newest token's k, rotated, and v (from the fused projection's row q_row) into its cache slot, KV head kvh.
__device__ __forceinline__ void decode_tc_store_new(const T* q_row, const T* cos_row, const T* sin_row, i64 slot, T* kc, T* vc, int kvh)
{
  const T* k_new = q_row + (HEADS + kvh) * HEAD_DIM;
  for (int d = threadIdx.x; d < HEAD_DIM; d += 128) {
    kc[(slot * KV_HEADS + kvh) * HEAD_DIM + d] = to_t(rope_at(k_new, cos_row, sin_row, d));
    vc[(slot * KV_HEADS + kvh) * HEAD_DIM + d] = k_new[KV_HEADS * HEAD_DIM + d];
  }
}

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

#if DKV_SPLIT
// With DKV_SPLIT (tuning): keys and values go through three slots of [DBN][KPAD] in turn (K0 V0 K1 V1 …, item i in slot
// i % 3) instead of DSTAGES stages of both: 52 KB of shared memory instead of 70 KB with head size 128, so four blocks fit
// on a multiprocessor instead of three (64 × 512 makes 512 blocks of one partition: 1.3 waves of three a
// multiprocessor, one wave of four), each slot refilled as soon as the warps are done with it. Queues one of them.
__device__ __forceinline__ void decode_tc_load_one(u16* slot, const T* __restrict__ cache, const i64* blocks, int first_block,
  int kvh, int kb, int end)
{
  for (int i = threadIdx.x; i < DBN * DCH; i += 128) {
    const int r = i / DCH, c = i % DCH, j = kb + r;
    const bool valid = j < end;
    i64 off = 0;
    if (valid) off = ((blocks[j / BLOCK_SIZE - first_block] * BLOCK_SIZE + j % BLOCK_SIZE) * KV_HEADS + kvh) * HEAD_DIM + c * 8;
    cp_async16(slot + r * KPAD + c * 8, cache + off, valid);
  }
}
#define DSLOT (DBN * KPAD)
// Four blocks a multiprocessor where the shared memory holds them (228 KB on sm_90); on sm_80's 164 KB three fit anyway,
// and asking for four there would spill registers.
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define DTC_BOUNDS __launch_bounds__(128, 4)
#else
#define DTC_BOUNDS __launch_bounds__(128, 3)
#endif
#define DPRO_CHUNKS 2
#else
#define DTC_BOUNDS __launch_bounds__(128)
#define DPRO_CHUNKS (DSTAGES - 1)
#endif

// A warp's 16 tokens from wb (keys ks, [16][KPAD] in shared memory): its scores against the tile's query rows, those
// past end masked, then the online softmax's step, leaving P's fragments in pf for P · V.
__device__ __forceinline__ void decode_tc_scores(const unsigned (&qf)[HEAD_DIM / 16][4], const u16* ks, int lane, int wb, int end,
  float scale_log2, float& m_lo, float& m_hi, float& l_lo, float& l_hi, float (&o)[HEAD_DIM / 8][4], unsigned (&pf)[1][4])
{
  const int tig = lane & 3;
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
  softmax_step<2>(s, mx_lo, mx_hi, m_lo, m_hi, l_lo, l_hi, o, pf);
}

// The kernel's body, with ROPE: q is the fused projection qkv [batch, (HEADS + 2 KV_HEADS) HEAD_DIM] as the product
// wrote it, rotated here as it is read, and the block whose partition holds the newest token rotates its k and writes it
// and v to the token's cache slot (rope_qkv's work, the same bits, one kernel fewer); without, q is rope_qkv's output.
template <bool ROPE>
__device__ __forceinline__ void decode_tc(
  const T* __restrict__ q, T* kc, T* vc,
  const i64* __restrict__ tables, int table_stride, const i64* __restrict__ lens,
  float* __restrict__ part_acc, float* __restrict__ part_max, float* __restrict__ part_sum, T* __restrict__ out,
  int part_tokens, float scale_log2,
  const T* __restrict__ cos_t, const T* __restrict__ sin_t, const i64* __restrict__ positions, const i64* __restrict__ slots)
{
  extern __shared__ __align__(16) u16 smem[];   // DSTAGES stages of DSTAGE elements; the warps' results at the end
  __shared__ i64 blocks[MAX_PART_BLOCKS];
  const bool rope = ROPE;
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
  const i64 pos = rope ? positions[b] : 0;
  const T* cos_row = rope ? cos_t + pos * HEAD_DIM : nullptr;
  const T* sin_row = rope ? sin_t + pos * HEAD_DIM : nullptr;
  const T* q_row = q + (i64)b * (HEADS + 2 * KV_HEADS) * HEAD_DIM;   // with ROPE: the row of qkv
  __syncthreads();
  GRID_WAIT();   // lengths, block tables, positions and slots are the step's inputs; the newest token's keys and values and q are not
  // The newest token's k (rotated) and v go to its cache slot before the block queues the read of the chunk that holds
  // it: first where that chunk is among the first stages, else after those stages are in flight (the cache streams
  // while the token is written), with a barrier either way, as other threads queue the reads.
  const int chunks = (end - start + DBN - 1) / DBN;
  const bool writes_new = rope && len - 1 >= start && len - 1 < end;
  const bool write_first = writes_new && (len - 1 - start) / DBN < DPRO_CHUNKS;
  if (write_first) {
    decode_tc_store_new(q_row, cos_row, sin_row, slots[b], kc, vc, kvh);
    __syncthreads();
  }
#if DKV_SPLIT
  // K0, V0, K1 in flight before any is used, a group each.
  decode_tc_load_one(smem, kc, blocks, first_block, kvh, start, end);
  cp_async_commit();
  decode_tc_load_one(smem + DSLOT, vc, blocks, first_block, kvh, start, end);
  cp_async_commit();
  if (chunks > 1) decode_tc_load_one(smem + 2 * DSLOT, kc, blocks, first_block, kvh, start + DBN, end);
  cp_async_commit();
#else
#pragma unroll
  for (int c = 0; c < DSTAGES - 1; c++) {   // the first stages in flight before any is used
    if (c < chunks) decode_tc_load(smem + c * DSTAGE, kc, vc, blocks, first_block, kvh, start + c * DBN, end);
    cp_async_commit();
  }
#endif
  if (writes_new && !write_first) {
    decode_tc_store_new(q_row, cos_row, sin_row, slots[b], kc, vc, kvh);
    __syncthreads();
  }

  // Rows g and g + 8 of the tile are query heads kvh * GROUP + g and + 8, where they exist.
  unsigned qf[HEAD_DIM / 16][4];
  const T* q_lo = rope ? q_row + (kvh * GROUP + g) * HEAD_DIM : q + ((i64)b * HEADS + kvh * GROUP + g) * HEAD_DIM;
  const T* q_hi = q_lo + 8 * HEAD_DIM;
#pragma unroll
  for (int kk = 0; kk < HEAD_DIM / 16; kk++) {
    const int d = kk * 16 + tig * 2;
    if (rope) {
      qf[kk][0] = g < GROUP ? pack2(rope_at(q_lo, cos_row, sin_row, d), rope_at(q_lo, cos_row, sin_row, d + 1)) : 0u;
      qf[kk][1] = g + 8 < GROUP ? pack2(rope_at(q_hi, cos_row, sin_row, d), rope_at(q_hi, cos_row, sin_row, d + 1)) : 0u;
      qf[kk][2] = g < GROUP ? pack2(rope_at(q_lo, cos_row, sin_row, d + 8), rope_at(q_lo, cos_row, sin_row, d + 9)) : 0u;
      qf[kk][3] = g + 8 < GROUP ? pack2(rope_at(q_hi, cos_row, sin_row, d + 8), rope_at(q_hi, cos_row, sin_row, d + 9)) : 0u;
    } else {
      qf[kk][0] = g < GROUP ? *(const unsigned*)(q_lo + d) : 0u;
      qf[kk][1] = g + 8 < GROUP ? *(const unsigned*)(q_hi + d) : 0u;
      qf[kk][2] = g < GROUP ? *(const unsigned*)(q_lo + d + 8) : 0u;
      qf[kk][3] = g + 8 < GROUP ? *(const unsigned*)(q_hi + d + 8) : 0u;
    }
  }
  float o[HEAD_DIM / 8][4];
#pragma unroll
  for (int dt = 0; dt < HEAD_DIM / 8; dt++) { o[dt][0] = 0.f; o[dt][1] = 0.f; o[dt][2] = 0.f; o[dt][3] = 0.f; }
  float m_lo = NEG_INF, m_hi = NEG_INF, l_lo = 0.f, l_hi = 0.f;

#if DKV_SPLIT
  for (int t = 0; t < chunks; t++) {
    const int kb = start + t * DBN;
    const int wb = kb + warp * 16;   // this warp's 16 tokens
    // Items so far: up to K(t+1) (item 2t + 2); all but the last two landed: K(t), item 2t, in slot 2t % 3.
    cp_async_wait_n<2>();
    __syncthreads();
    unsigned pf[1][4];
    if (wb < end) {
      decode_tc_scores(qf, smem + ((2 * t) % 3) * DSLOT + warp * 16 * KPAD, lane, wb, end, scale_log2, m_lo, m_hi, l_lo, l_hi, o, pf);
    }
    __syncthreads();   // K(t)'s slot read by all: V(t + 1), item 2t + 3, goes there
    if (t + 1 < chunks) decode_tc_load_one(smem + ((2 * t + 3) % 3) * DSLOT, vc, blocks, first_block, kvh, kb + DBN, end);
    cp_async_commit();
    cp_async_wait_n<2>();   // all but K(t + 1) and V(t + 1): V(t), item 2t + 1, has landed
    __syncthreads();
    if (wb < end) pv_tile(o, pf[0], smem + ((2 * t + 1) % 3) * DSLOT + warp * 16 * KPAD, lane);
    __syncthreads();   // V(t)'s slot read by all: K(t + 2), item 2t + 4, goes there
    if (t + 2 < chunks) decode_tc_load_one(smem + ((2 * t + 4) % 3) * DSLOT, kc, blocks, first_block, kvh, kb + 2 * DBN, end);
    cp_async_commit();
  }
#else
  for (int t = 0; t < chunks; t++) {
    const int kb = start + t * DBN;
    const int ahead = t + DSTAGES - 1;
    if (ahead < chunks) decode_tc_load(smem + (ahead % DSTAGES) * DSTAGE, kc, vc, blocks, first_block, kvh, start + ahead * DBN, end);
    cp_async_commit();
    cp_async_wait_n<DSTAGES - 1>();   // all but the groups queued after this chunk's: it has landed
    __syncthreads();
    const int wb = kb + warp * 16;   // this warp's 16 tokens
    if (wb < end) {
      const u16* ks = smem + (t % DSTAGES) * DSTAGE + warp * 16 * KPAD;
      const u16* vs = ks + DBN * KPAD;
      unsigned pf[1][4];
      decode_tc_scores(qf, ks, lane, wb, end, scale_log2, m_lo, m_hi, l_lo, l_hi, o, pf);
      pv_tile(o, pf[0], vs, lane);
    }
    __syncthreads();   // this stage is read by all before the next iteration refills it
  }
#endif

  // Each warp's rows: its maximum (log2 units), sum and unnormalised output, then the partition's, as paged_decode writes them.
  l_lo += __shfl_xor_sync(0xffffffffu, l_lo, 1); l_lo += __shfl_xor_sync(0xffffffffu, l_lo, 2);
  l_hi += __shfl_xor_sync(0xffffffffu, l_hi, 1); l_hi += __shfl_xor_sync(0xffffffffu, l_hi, 2);
  float* sm_o = (float*)smem;                      // [4][GROUP][HEAD_DIM]
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

extern "C" __global__ void DTC_BOUNDS paged_decode_tc(
  const T* __restrict__ q, const T* __restrict__ kc, const T* __restrict__ vc,
  const i64* __restrict__ tables, int table_stride, const i64* __restrict__ lens,
  float* __restrict__ part_acc, float* __restrict__ part_max, float* __restrict__ part_sum, T* __restrict__ out,
  int part_tokens, float scale_log2)
{
  decode_tc<false>(q, (T*)kc, (T*)vc, tables, table_stride, lens, part_acc, part_max, part_sum, out, part_tokens, scale_log2,
    nullptr, nullptr, nullptr, nullptr);
}

// paged_decode_tc with RoPE and the newest token's cache write (tuning ROPE_FUSE=1): q is the qkv product's output.
extern "C" __global__ void DTC_BOUNDS paged_decode_tc_rope(
  const T* __restrict__ qkv, T* kc, T* vc,
  const i64* __restrict__ tables, int table_stride, const i64* __restrict__ lens,
  float* __restrict__ part_acc, float* __restrict__ part_max, float* __restrict__ part_sum, T* __restrict__ out,
  int part_tokens, float scale_log2,
  const T* __restrict__ cos_t, const T* __restrict__ sin_t, const i64* __restrict__ positions, const i64* __restrict__ slots)
{
  decode_tc<true>(qkv, kc, vc, tables, table_stride, lens, part_acc, part_max, part_sum, out, part_tokens, scale_log2,
    cos_t, sin_t, positions, slots);
}
#endif

""";
}
