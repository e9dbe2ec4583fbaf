namespace ControlPlane.Engine.Cuda;

/// <summary>
/// The engine's own CUDA kernels, compiled at start-up by NVRTC for the model's shape (head size, heads, KV
/// heads, block size and element type are compile-time constants): a paged decode attention that reads keys
/// and values straight from the block table (split over context partitions, then reduced), RMSNorm in one
/// pass, and RoPE fused with the KV cache write. No CUDA headers are needed: bf16 and fp16 are converted by hand.
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
""";
}
