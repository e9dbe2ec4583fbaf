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

#define VEC (HEAD_DIM / 32)
#define WARPS 4
#define UNROLL 8
struct __align__(VEC * sizeof(T)) Vec { T v[VEC]; };

// One block per row: out = rms_norm(x) * w, in fp32, rounded as the eager ops round.
extern "C" __global__ void rms_norm(const T* __restrict__ x, const T* __restrict__ w, T* __restrict__ out, int n, float eps)
{
  const T* row = x + (i64)blockIdx.x * n;
  T* dst = out + (i64)blockIdx.x * n;
  float ss = 0.f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) { float v = from_t(row[i]); ss += v * v; }
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
  float r = rsqrtf(total / n + eps);
  for (int i = threadIdx.x; i < n; i += blockDim.x)
    dst[i] = to_t(rnd(from_t(row[i]) * r) * from_t(w[i]));
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
// an online softmax; it writes the partition's unnormalised output, running max and sum.
extern "C" __global__ void __launch_bounds__(WARPS * 32) paged_decode(
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

  float qr[GROUP][VEC];
#pragma unroll
  for (int g = 0; g < GROUP; g++) {
    Vec v = *(const Vec*)(q + ((i64)b * HEADS + kvh * GROUP + g) * HEAD_DIM + lane * VEC);
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
  const i64* table = tables + (i64)b * table_stride;
  for (int t0 = start + warp * UNROLL; t0 < end; t0 += WARPS * UNROLL) {
    Vec kv[UNROLL], vv[UNROLL];
#pragma unroll
    for (int u = 0; u < UNROLL; u++) {
      const int t = t0 + u;
      if (t < end) {
        const i64 slot = table[t / BLOCK_SIZE] * BLOCK_SIZE + (t % BLOCK_SIZE);
        const i64 off = (slot * KV_HEADS + kvh) * HEAD_DIM + lane * VEC;
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
        for (int o = 16; o > 0; o >>= 1) s[g][u] += __shfl_xor_sync(0xffffffffu, s[g][u], o);
#pragma unroll
    for (int g = 0; g < GROUP; g++) {
      float mx = m[g];
#pragma unroll
      for (int u = 0; u < UNROLL; u++) if (t0 + u < end) mx = fmaxf(mx, s[g][u]);
      const float corr = __expf(m[g] - mx);
      l[g] *= corr;
#pragma unroll
      for (int i = 0; i < VEC; i++) acc[g][i] *= corr;
#pragma unroll
      for (int u = 0; u < UNROLL; u++) {
        if (t0 + u < end) {
          const float e = __expf(s[g][u] - mx);
          l[g] += e;
#pragma unroll
          for (int i = 0; i < VEC; i++) acc[g][i] += e * from_t(vv[u].v[i]);
        }
      }
      m[g] = mx;
    }
  }

  __shared__ float sm_m[WARPS][GROUP], sm_l[WARPS][GROUP];
  __shared__ float sm_acc[WARPS][GROUP][HEAD_DIM];
#pragma unroll
  for (int g = 0; g < GROUP; g++) {
    if (lane == 0) { sm_m[warp][g] = m[g]; sm_l[warp][g] = l[g]; }
#pragma unroll
    for (int i = 0; i < VEC; i++) sm_acc[warp][g][lane * VEC + i] = acc[g][i];
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < GROUP * HEAD_DIM; idx += WARPS * 32) {
    const int g = idx / HEAD_DIM, d = idx % HEAD_DIM;
    float mx = NEG_INF;
#pragma unroll
    for (int w = 0; w < WARPS; w++) mx = fmaxf(mx, sm_m[w][g]);
    float sum = 0.f, a = 0.f;
#pragma unroll
    for (int w = 0; w < WARPS; w++) {
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

// grid (HEADS, batch), block HEAD_DIM: combines a sequence's partitions into out [batch, HEADS * HEAD_DIM].
extern "C" __global__ void paged_decode_reduce(const float* __restrict__ part_acc, const float* __restrict__ part_max,
  const float* __restrict__ part_sum, const i64* __restrict__ lens, T* __restrict__ out, int part_tokens, int parts)
{
  const int h = blockIdx.x, b = blockIdx.y, d = threadIdx.x;
  const int len = (int)lens[b];
  const int used = (len + part_tokens - 1) / part_tokens;
  const i64 base = ((i64)b * HEADS + h) * parts;
  float mx = NEG_INF;
  for (int p = 0; p < used; p++) mx = fmaxf(mx, part_max[base + p]);
  float sum = 0.f, a = 0.f;
  for (int p = 0; p < used; p++) {
    const float f = __expf(part_max[base + p] - mx);
    sum += f * part_sum[base + p];
    a += f * part_acc[(base + p) * HEAD_DIM + d];
  }
  out[((i64)b * HEADS + h) * HEAD_DIM + d] = to_t(a / sum);
}
""";
}
