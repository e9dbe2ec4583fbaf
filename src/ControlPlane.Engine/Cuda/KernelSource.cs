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

// Rounds through the element type, as an eager op in that type would.
__device__ __forceinline__ float rnd(float v) { return from_t(to_t(v)); }

""";
}
