namespace ControlPlane.Engine.Cuda;

internal static partial class KernelSource
{
    /// <summary>rms_norm, silu_mul and rope_qkv: one pass over each row, rounded as the eager ops round.</summary>
    private const string Pointwise = """

// One block per row: out = rms_norm(x) * w, in fp32, rounded as the eager ops round. Each thread holds up to
// four 16-byte vectors of its row in registers, so the row is read once.
#define NV (16 / (int)sizeof(T))
struct __align__(16) V16 { T v[NV]; };
extern "C" __global__ void rms_norm(const T* __restrict__ x, const T* __restrict__ w, T* __restrict__ out, int n, float eps)
{
  GRID_DEPENDENTS();
  GRID_WAIT();
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
  GRID_DEPENDENTS();
  GRID_WAIT();
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
  GRID_DEPENDENTS();
  const int n = blockIdx.x, h = blockIdx.y, i = threadIdx.x, half = HEAD_DIM / 2;
  const T* src = qkv + (i64)n * (HEADS + 2 * KV_HEADS) * HEAD_DIM + (i64)h * HEAD_DIM;
  const i64 slot = slots[n];
  const i64 pos = positions[n];
  const float c1 = from_t(cos_t[pos * HEAD_DIM + i]), c2 = from_t(cos_t[pos * HEAD_DIM + i + half]);
  const float s1 = from_t(sin_t[pos * HEAD_DIM + i]), s2 = from_t(sin_t[pos * HEAD_DIM + i + half]);
  GRID_WAIT();   // the kernel before this one wrote none of the above (step inputs, angle tables); it wrote qkv
  if (h >= HEADS + KV_HEADS) {
    T* dst = vc + (slot * KV_HEADS + (h - HEADS - KV_HEADS)) * HEAD_DIM;
    dst[i] = src[i];
    dst[i + half] = src[i + half];
    return;
  }
  const float x1 = from_t(src[i]), x2 = from_t(src[i + half]);
  T* dst = h < HEADS ? q_out + ((i64)n * HEADS + h) * HEAD_DIM : kc + (slot * KV_HEADS + (h - HEADS)) * HEAD_DIM;
  dst[i] = to_t(rnd(x1 * c1) + rnd(-x2 * s1));
  dst[i + half] = to_t(rnd(x2 * c2) + rnd(x1 * s2));
}

""";
}
