namespace ControlPlane.Engine.Cuda;

/// <summary>
/// The engine's own CUDA kernels, compiled at start-up by NVRTC for the model's shape (head size, heads, KV
/// heads, block size and element type are compile-time constants), as one source made of parts: the element type and
/// its conversions (here), the pointwise kernels (<see cref="Pointwise"/>: RMSNorm in one pass, SiLU·up, RoPE fused with
/// the KV cache write), the paged decode attention (<see cref="Decode"/>: keys and values straight from the block table,
/// split over context partitions, then reduced) and, for bf16/fp16 on sm_80 and later, the paged prefill attention on
/// tensor cores (<see cref="Prefill"/>), and there the decode attention on tensor cores too (<see cref="DecodeTc"/>). No CUDA headers are needed: bf16 and fp16 are converted by hand.
/// </summary>
internal static partial class KernelSource
{
    public const string Text = Common + Pointwise + Decode + TensorCore + Prefill + DecodeTc;

    /// <summary>The element type T (fp32, bf16 or fp16 by T_KIND), its conversions to and from float, and rounding through it.</summary>
    private const string Common = """
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

// Programmatic dependent launch (sm_90, tuning PDL=1; launched with the attribute): a kernel lets the next one start
// launching at once (GRID_DEPENDENTS) and waits for the one before it to finish and flush (GRID_WAIT) before it reads
// what that one wrote or writes anything, so launch and set-up overlap the previous kernel's tail. Elsewhere both are empty.
#if defined(PDL) && PDL && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define GRID_WAIT() asm volatile("griddepcontrol.wait;" ::: "memory")
#define GRID_DEPENDENTS() asm volatile("griddepcontrol.launch_dependents;" ::: "memory")
#else
#define GRID_WAIT()
#define GRID_DEPENDENTS()
#endif

// Weights the next matrix product reads, asked into L2 while this kernel runs (CudaKernels.Prefetch: tuning PREFETCH):
// [p, p + bytes) split over the grid's nblk blocks, block blk's share issued by its threads a PF_CHUNK at a time. A hint
// only: no value depends on it, and a null p or no bytes asks for nothing. On sm_90 one bulk prefetch a chunk (the copy
// engine walks it; PF_HINT=1 marks the lines evict-last, so that the stream this kernel itself reads passes them by);
// on sm_80-89 one prefetch a 128-byte line.
#ifndef PF_CHUNK
#define PF_CHUNK 16384
#endif
#ifndef PF_HINT
#define PF_HINT 1
#endif
__device__ __forceinline__ void l2_prefetch(const char* p, i64 bytes, int blk, int nblk)
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
  if (p == 0 || bytes <= 0) return;
  const i64 share = ((bytes + nblk - 1) / nblk + 127) / 128 * 128;
  const i64 from = (i64)blk * share;
  const i64 to = from + share < bytes ? from + share : bytes;
#if __CUDA_ARCH__ >= 900
#if PF_HINT
  unsigned long long policy;
  asm volatile("createpolicy.fractional.L2::evict_last.b64 %0, 1.0;" : "=l"(policy));
#endif
  for (i64 a = from + (i64)threadIdx.x * PF_CHUNK; a < to; a += (i64)blockDim.x * PF_CHUNK) {
    const unsigned n = (unsigned)(to - a < PF_CHUNK ? to - a : PF_CHUNK);
#if PF_HINT
    asm volatile("cp.async.bulk.prefetch.L2.global.L2::cache_hint [%0], %1, %2;" :: "l"(p + a), "r"(n), "l"(policy) : "memory");
#else
    asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" :: "l"(p + a), "r"(n) : "memory");
#endif
  }
#else
  for (i64 a = from + (i64)threadIdx.x * 128; a < to; a += (i64)blockDim.x * 128)
    asm volatile("prefetch.global.L2::evict_last [%0];" :: "l"(p + a));
#endif
#endif
}

// Rounds through the element type, as an eager op in that type would.
__device__ __forceinline__ float rnd(float v) { return from_t(to_t(v)); }

""";
}
