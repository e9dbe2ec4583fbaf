namespace ControlPlane.Engine.Cuda;

internal static partial class KernelSource
{
    /// <summary>paged_decode (one partition of one sequence per block) and paged_decode_reduce (its partitions combined).</summary>
    private const string Decode = """

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

// grid (partitions, KV_HEADS, batch), block WARPS * 32. Each block attends the GROUP query heads of one KV
// head over one partition of one sequence's context, reading keys and values through the block table, with
// an online softmax per token stream (TOK per warp); it writes the partition's unnormalised output, max and sum.
extern "C" __global__ void __launch_bounds__(WARPS * 32, 4) paged_decode(
  const T* __restrict__ q, const T* __restrict__ kc, const T* __restrict__ vc,
  const i64* __restrict__ tables, int table_stride, const i64* __restrict__ lens,
  float* __restrict__ part_acc, float* __restrict__ part_max, float* __restrict__ part_sum,
  int part_tokens, float scale)
{
  GRID_DEPENDENTS();
  GRID_WAIT();
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
  GRID_DEPENDENTS();
  GRID_WAIT();
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
