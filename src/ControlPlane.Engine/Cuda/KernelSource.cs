namespace ControlPlane.Engine.Cuda;

/// <summary>
/// The engine's own CUDA kernels, compiled at start-up by NVRTC for the model's shape (head size, heads, KV
/// heads, block size and element type are compile-time constants): a paged decode attention that reads keys
/// and values straight from the block table (split over context partitions, then reduced), RMSNorm in one
/// pass, RoPE fused with the KV cache write, and (bf16/fp16 on sm_80 and later) a paged prefill attention on tensor cores. No CUDA headers are needed: bf16 and fp16 are converted by hand.
/// </summary>
internal static class KernelSource
{
    public const string Text = """
typedef unsigned short u16;
typedef long long i64;
#define NEG_INF __int_as_float(0xff800000)

#if T_KIND == 0
typedef float T;
__device__ __forceinline__ float from_t(T x) { return x; }
__device__ __forceinline__ T to_t(float v) { return v; }
#elif T_KIND == 1
typedef u16 T;
__device__ __forceinline__ float from_t(T x) { return __uint_as_float(((unsigned)x) << 16); }
__device__ __forceinline__ T to_t(float v) {
  unsigned u = __float_as_uint(v);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (u16)0x7fc0;
  u += 0x7fffu + ((u >> 16) & 1u);
  return (u16)(u >> 16);
}
#else
typedef u16 T;
__device__ __forceinline__ float from_t(T x) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(x)); return f; }
__device__ __forceinline__ T to_t(float v) { u16 h; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v)); return h; }
#endif

// Rounds through the element type, as an eager op in that type would.
__device__ __forceinline__ float rnd(float v) { return from_t(to_t(v)); }

// Decode attention: VEC elements (16 bytes where the head allows) per lane, TPT lanes per token, so a warp
// reads TOK tokens at once; UNROLL groups of them are loaded before any is used.
#define TPT (HEAD_DIM / VEC)
#define TOK (32 / TPT)
#ifndef WARPS
#define WARPS 4
#endif
#ifndef UNROLL
#define UNROLL 2
#endif
#define STREAMS (WARPS * TOK)
#define MAX_PART_BLOCKS 128
struct __align__(VEC_ALIGN) Vec { T v[VEC]; };

// One block per row: out = rms_norm(x) * w, in fp32, rounded as the eager ops round. Each thread holds up to
// four 16-byte vectors of its row in registers, so the row is read once.
#define NV (16 / (int)sizeof(T))
struct __align__(16) V16 { T v[NV]; };
extern "C" __global__ void rms_norm(const T* __restrict__ x, const T* __restrict__ w, T* __restrict__ out, int n, float eps)
{
  const int nv = n / NV;
  const V16* row = (const V16*)(x + (i64)blockIdx.x * n);
  V16* dst = (V16*)(out + (i64)blockIdx.x * n);
  V16 r[4];
  float ss = 0.f;
#pragma unroll
  for (int k = 0; k < 4; k++) {
    const int i = threadIdx.x + k * blockDim.x;
    if (i < nv) {
      r[k] = row[i];
#pragma unroll
      for (int j = 0; j < NV; j++) { const float v = from_t(r[k].v[j]); ss += v * v; }
    }
  }
  for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
  __shared__ float partial[32];
  __shared__ float total;
  if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = ss;
  __syncthreads();
  if (threadIdx.x < 32) {
    float s = threadIdx.x < (blockDim.x >> 5) ? partial[threadIdx.x] : 0.f;
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (threadIdx.x == 0) total = s;
  }
  __syncthreads();
  const float rr = rsqrtf(total / n + eps);
#pragma unroll
  for (int k = 0; k < 4; k++) {
    const int i = threadIdx.x + k * blockDim.x;
    if (i < nv) {
      const V16 wv = ((const V16*)w)[i];
      V16 o;
#pragma unroll
      for (int j = 0; j < NV; j++) o.v[j] = to_t(rnd(from_t(r[k].v[j]) * rr) * from_t(wv.v[j]));
      dst[i] = o;
    }
  }
}

// out [rows, n] = silu(gate) * up over gate_up [rows, 2n], rounded as the eager ops round.
extern "C" __global__ void silu_mul(const T* __restrict__ gate_up, T* __restrict__ out, int n)
{
  const T* row = gate_up + (i64)blockIdx.y * 2 * n;
  T* dst = out + (i64)blockIdx.y * n;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
    const float g = from_t(row[i]);
    dst[i] = to_t(rnd(g / (1.f + __expf(-g))) * from_t(row[n + i]));
  }
}

// grid (tokens, HEADS + 2 * KV_HEADS), block HEAD_DIM / 2. Rotates q and k of each token by its position's
// angles; q goes to q_out [tokens, HEADS, HEAD_DIM], k and v to their cache slots [slot, KV_HEADS, HEAD_DIM].
extern "C" __global__ void rope_qkv(const T* __restrict__ qkv, const T* __restrict__ cos_t, const T* __restrict__ sin_t,
  const i64* __restrict__ positions, const i64* __restrict__ slots, T* __restrict__ q_out, T* __restrict__ kc, T* __restrict__ vc)
{
  const int n = blockIdx.x, h = blockIdx.y, i = threadIdx.x, half = HEAD_DIM / 2;
  const T* src = qkv + (i64)n * (HEADS + 2 * KV_HEADS) * HEAD_DIM + (i64)h * HEAD_DIM;
  const i64 slot = slots[n];
  if (h >= HEADS + KV_HEADS) {
    T* dst = vc + (slot * KV_HEADS + (h - HEADS - KV_HEADS)) * HEAD_DIM;
    dst[i] = src[i];
    dst[i + half] = src[i + half];
    return;
  }
  const i64 pos = positions[n];
  const float c1 = from_t(cos_t[pos * HEAD_DIM + i]), c2 = from_t(cos_t[pos * HEAD_DIM + i + half]);
  const float s1 = from_t(sin_t[pos * HEAD_DIM + i]), s2 = from_t(sin_t[pos * HEAD_DIM + i + half]);
  const float x1 = from_t(src[i]), x2 = from_t(src[i + half]);
  T* dst = h < HEADS ? q_out + ((i64)n * HEADS + h) * HEAD_DIM : kc + (slot * KV_HEADS + (h - HEADS)) * HEAD_DIM;
  dst[i] = to_t(rnd(x1 * c1) + rnd(-x2 * s1));
  dst[i + half] = to_t(rnd(x2 * c2) + rnd(x1 * s2));
}

// grid (partitions, KV_HEADS, batch), block WARPS * 32. Each block attends the GROUP query heads of one KV
// head over one partition of one sequence's context, reading keys and values through the block table, with
// an online softmax per token stream (TOK per warp); it writes the partition's unnormalised output, max and sum.
extern "C" __global__ void __launch_bounds__(WARPS * 32, 4) paged_decode(
  const T* __restrict__ q, const T* __restrict__ kc, const T* __restrict__ vc,
  const i64* __restrict__ tables, int table_stride, const i64* __restrict__ lens,
  float* __restrict__ part_acc, float* __restrict__ part_max, float* __restrict__ part_sum,
  int part_tokens, float scale)
{
  const int p = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z, parts = gridDim.x;
  const int len = (int)lens[b];
  const int start = p * part_tokens;
  if (start >= len) return;
  const int end = min(len, start + part_tokens);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int sub = lane / TPT, part = lane % TPT;   // which token of the warp's TOK, which slice of the head
  const int stream = warp * TOK + sub;

  // The partition's block ids, once, so that each load of keys and values waits on memory only once.
  __shared__ i64 blocks[MAX_PART_BLOCKS];
  const int first_block = start / BLOCK_SIZE;
  const int block_count = (end - 1) / BLOCK_SIZE - first_block + 1;
  for (int i = threadIdx.x; i < block_count; i += WARPS * 32) blocks[i] = tables[(i64)b * table_stride + first_block + i];
  __syncthreads();

  float qr[GROUP][VEC];
#pragma unroll
  for (int g = 0; g < GROUP; g++) {
    Vec v = *(const Vec*)(q + ((i64)b * HEADS + kvh * GROUP + g) * HEAD_DIM + part * VEC);
#pragma unroll
    for (int i = 0; i < VEC; i++) qr[g][i] = from_t(v.v[i]) * scale;
  }
  float m[GROUP], l[GROUP], acc[GROUP][VEC];
#pragma unroll
  for (int g = 0; g < GROUP; g++) {
    m[g] = NEG_INF; l[g] = 0.f;
#pragma unroll
    for (int i = 0; i < VEC; i++) acc[g][i] = 0.f;
  }
  for (int t0 = start + warp * UNROLL * TOK; t0 < end; t0 += WARPS * UNROLL * TOK) {
    Vec kv[UNROLL], vv[UNROLL];
#pragma unroll
    for (int u = 0; u < UNROLL; u++) {
      const int t = t0 + u * TOK + sub;
      if (t < end) {
        const i64 slot = blocks[t / BLOCK_SIZE - first_block] * BLOCK_SIZE + (t % BLOCK_SIZE);
        const i64 off = (slot * KV_HEADS + kvh) * HEAD_DIM + part * VEC;
        kv[u] = *(const Vec*)(kc + off);
        vv[u] = *(const Vec*)(vc + off);
      }
    }
    float s[GROUP][UNROLL];
#pragma unroll
    for (int u = 0; u < UNROLL; u++) {
#pragma unroll
      for (int g = 0; g < GROUP; g++) {
        float d = 0.f;
#pragma unroll
        for (int i = 0; i < VEC; i++) d += qr[g][i] * from_t(kv[u].v[i]);
        s[g][u] = d;
      }
    }
#pragma unroll
    for (int u = 0; u < UNROLL; u++)
#pragma unroll
      for (int g = 0; g < GROUP; g++)
#pragma unroll
        for (int o = TPT / 2; o > 0; o >>= 1) s[g][u] += __shfl_xor_sync(0xffffffffu, s[g][u], o);
#pragma unroll
    for (int g = 0; g < GROUP; g++) {
      float mx = m[g];
#pragma unroll
      for (int u = 0; u < UNROLL; u++) if (t0 + u * TOK + sub < end) mx = fmaxf(mx, s[g][u]);
      if (mx == NEG_INF) continue;   // this stream had no token in this round
      const float corr = __expf(m[g] - mx);
      l[g] *= corr;
#pragma unroll
      for (int i = 0; i < VEC; i++) acc[g][i] *= corr;
#pragma unroll
      for (int u = 0; u < UNROLL; u++) {
        if (t0 + u * TOK + sub < end) {
          const float e = __expf(s[g][u] - mx);
          l[g] += e;
#pragma unroll
          for (int i = 0; i < VEC; i++) acc[g][i] += e * from_t(vv[u].v[i]);
        }
      }
      m[g] = mx;
    }
  }

  __shared__ float sm_m[STREAMS][GROUP], sm_l[STREAMS][GROUP];
  __shared__ float sm_acc[STREAMS][GROUP][HEAD_DIM];
#pragma unroll
  for (int g = 0; g < GROUP; g++) {
    if (part == 0) { sm_m[stream][g] = m[g]; sm_l[stream][g] = l[g]; }
#pragma unroll
    for (int i = 0; i < VEC; i++) sm_acc[stream][g][part * VEC + i] = acc[g][i];
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < GROUP * HEAD_DIM; idx += WARPS * 32) {
    const int g = idx / HEAD_DIM, d = idx % HEAD_DIM;
    float mx = NEG_INF;
#pragma unroll
    for (int w = 0; w < STREAMS; w++) mx = fmaxf(mx, sm_m[w][g]);
    float sum = 0.f, a = 0.f;
#pragma unroll
    for (int w = 0; w < STREAMS; w++) {
      const float mw = sm_m[w][g];
      const float f = mw == NEG_INF ? 0.f : __expf(mw - mx);
      sum += f * sm_l[w][g];
      a += f * sm_acc[w][g][d];
    }
    const i64 o = ((i64)b * HEADS + kvh * GROUP + g) * parts + p;
    part_acc[o * HEAD_DIM + d] = a;
    if (d == 0) { part_max[o] = mx; part_sum[o] = sum; }
  }
}

// grid (HEADS, batch), block HEAD_DIM: combines a sequence's partitions (at most MAX_PARTS) into
// out [batch, HEADS * HEAD_DIM]. Partition maxima and weights go through shared memory, read in parallel.
#define MAX_PARTS 1024
extern "C" __global__ void paged_decode_reduce(const float* __restrict__ part_acc, const float* __restrict__ part_max,
  const float* __restrict__ part_sum, const i64* __restrict__ lens, T* __restrict__ out, int part_tokens, int parts)
{
  __shared__ float weight[MAX_PARTS];
  __shared__ float partial[32];
  __shared__ float shared_max, shared_sum;
  const int h = blockIdx.x, b = blockIdx.y, d = threadIdx.x, lane = d & 31, warp = d >> 5;
  const int len = (int)lens[b];
  const int used = (len + part_tokens - 1) / part_tokens;
  const i64 base = ((i64)b * HEADS + h) * parts;
  float mx = NEG_INF;
  for (int p = d; p < used; p += HEAD_DIM) { weight[p] = part_max[base + p]; mx = fmaxf(mx, weight[p]); }
  for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
  if (lane == 0) partial[warp] = mx;
  __syncthreads();
  if (d == 0) { float m = NEG_INF; for (int w = 0; w < HEAD_DIM / 32; w++) m = fmaxf(m, partial[w]); shared_max = m; }
  __syncthreads();
  mx = shared_max;
  float sum = 0.f;
  for (int p = d; p < used; p += HEAD_DIM) { const float f = __expf(weight[p] - mx); weight[p] = f; sum += f * part_sum[base + p]; }
  for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
  __syncthreads();
  if (lane == 0) partial[warp] = sum;
  __syncthreads();
  if (d == 0) { float s = 0.f; for (int w = 0; w < HEAD_DIM / 32; w++) s += partial[w]; shared_sum = s; }
  __syncthreads();
  float a = 0.f;
#pragma unroll 8
  for (int p = 0; p < used; p++) a += weight[p] * part_acc[(base + p) * HEAD_DIM + d];
  out[((i64)b * HEADS + h) * HEAD_DIM + d] = to_t(a / shared_sum);
}
// Paged prefill attention (tensor cores, sm_80 and later, bf16/fp16): grid (tiles, HEADS), block 128 (four warps
// of 16 query rows), dynamic shared memory PREFILL_SMEM. A tile is up to 64 consecutive new tokens of one sequence:
// tiles [n, 4] holds its first row in the batch, its row count, the position of its first row and its sequence (the row
// of the block tables). Keys and values are read in place through the block table, 64 tokens at a time, by cp.async
// into two shared-memory stages (the next tile loads while this one computes); scores and outputs come from mma.sync
// (operands by ldmatrix) with an online softmax in fp32, FlashAttention-2's order of work. Row r attends keys 0..its
// position, so a chunk that continues a prompt reads its cached context exactly as a first chunk reads its own.
#if T_KIND != 0 && (HEAD_DIM == 32 || HEAD_DIM == 64 || HEAD_DIM == 128)
#define PBM 64
#define PBN 64
#define KPAD (HEAD_DIM + 8)
#define DCH (HEAD_DIM / 8)
#define STAGE (2 * PBN * KPAD)
struct __align__(16) Tile { int row0, rows, pos0, seq; };

__device__ __forceinline__ unsigned pack2(float lo, float hi) { return (unsigned)to_t(lo) | ((unsigned)to_t(hi) << 16); }
__device__ __forceinline__ unsigned smem_u32(const void* p) {
  unsigned a; asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p)); return a;
}
__device__ __forceinline__ void mma16816(float* c, const unsigned* a, unsigned b0, unsigned b1) {
#if __CUDA_ARCH__ >= 800
#if T_KIND == 1
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
#else
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
#endif
    : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3]) : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}
__device__ __forceinline__ void ldsm_x4(unsigned* r, const void* p) {
#if __CUDA_ARCH__ >= 800
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
    : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_u32(p)) : "memory");
#endif
}
__device__ __forceinline__ void ldsm_x4_trans(unsigned* r, const void* p) {
#if __CUDA_ARCH__ >= 800
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
    : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_u32(p)) : "memory");
#endif
}
// 16 bytes global -> shared without registers; zero-filled when !valid (src must still be a valid address).
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" :: "r"(smem_u32(dst)), "l"(src), "r"(valid ? 16 : 0) : "memory");
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.commit_group;" ::: "memory");
#endif
}
__device__ __forceinline__ void cp_async_wait_one() {
#if __CUDA_ARCH__ >= 800
  asm volatile("cp.async.wait_group 1;" ::: "memory");
#endif
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
#pragma unroll
      for (int nt = 0; nt < PBN / 8; nt++) {
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
      mx_lo = fmaxf(mx_lo, __shfl_xor_sync(0xffffffffu, mx_lo, 1)); mx_lo = fmaxf(mx_lo, __shfl_xor_sync(0xffffffffu, mx_lo, 2));
      mx_hi = fmaxf(mx_hi, __shfl_xor_sync(0xffffffffu, mx_hi, 1)); mx_hi = fmaxf(mx_hi, __shfl_xor_sync(0xffffffffu, mx_hi, 2));
      const float ref_lo = mx_lo == NEG_INF ? 0.f : mx_lo, ref_hi = mx_hi == NEG_INF ? 0.f : mx_hi;
      const float c_lo = exp2f(m_lo - ref_lo), c_hi = exp2f(m_hi - ref_hi);
      m_lo = mx_lo; m_hi = mx_hi;
      l_lo *= c_lo; l_hi *= c_hi;
#pragma unroll
      for (int dt = 0; dt < HEAD_DIM / 8; dt++) { o[dt][0] *= c_lo; o[dt][1] *= c_lo; o[dt][2] *= c_hi; o[dt][3] *= c_hi; }
      unsigned pf[PBN / 16][4];
#pragma unroll
      for (int nt = 0; nt < PBN / 8; nt++) {
        const float p0 = exp2f(s[nt][0] - ref_lo), p1 = exp2f(s[nt][1] - ref_lo);
        const float p2 = exp2f(s[nt][2] - ref_hi), p3 = exp2f(s[nt][3] - ref_hi);
        l_lo += p0 + p1; l_hi += p2 + p3;
        pf[nt / 2][(nt & 1) * 2] = pack2(p0, p1);
        pf[nt / 2][(nt & 1) * 2 + 1] = pack2(p2, p3);
      }
#pragma unroll
      for (int kk = 0; kk < PBN / 16; kk++) {
        const u16* vrow = vs + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * KPAD + (lane >> 4) * 8;
#pragma unroll
        for (int dt = 0; dt < HEAD_DIM / 8; dt += 2) {
          unsigned b[4];
          ldsm_x4_trans(b, vrow + dt * 8);
          mma16816(o[dt], pf[kk], b[0], b[1]);
          mma16816(o[dt + 1], pf[kk], b[2], b[3]);
        }
      }
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
