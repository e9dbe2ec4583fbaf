using System.Runtime.InteropServices;

namespace ControlPlane.Engine.Cuda;

/// <summary>
/// The cuBLASLt entry points the decode products need (the copy libtorch itself loaded): descriptors, the algorithm
/// heuristic, which lists candidates instead of cuBLAS's one choice, the lower-level calls that enumerate algorithms
/// and set their configuration (tile, stages, k split, custom option, cluster shape) for a search of one's own, and the
/// product. A status of 0 is success.
/// </summary>
internal static unsafe partial class CublasLtApi
{
    public const int ComputeType32F = 68;         // CUBLAS_COMPUTE_32F
    public const int DataType32F = 0;             // CUDA_R_32F
    public const int DataType16F = 2;             // CUDA_R_16F
    public const int DataType16BF = 14;           // CUDA_R_16BF
    public const int DescTransA = 3;              // CUBLASLT_MATMUL_DESC_TRANSA
    public const int DescTransB = 4;              // CUBLASLT_MATMUL_DESC_TRANSB
    public const int OpN = 0;                     // CUBLAS_OP_N
    public const int OpT = 1;                     // CUBLAS_OP_T
    public const int PreferenceMaxWorkspaceBytes = 1; // CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES (uint64)
    public const int AlgoConfigId = 0;            // CUBLASLT_ALGO_CONFIG_ID
    public const int AlgoConfigTileId = 1;        // CUBLASLT_ALGO_CONFIG_TILE_ID
    public const int AlgoConfigSplitK = 2;        // CUBLASLT_ALGO_CONFIG_SPLITK_NUM
    public const int AlgoConfigReductionScheme = 3; // CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME (uint32)
    public const int AlgoConfigCtaSwizzling = 4;  // CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING (uint32)
    public const int AlgoConfigCustomOption = 5;  // CUBLASLT_ALGO_CONFIG_CUSTOM_OPTION (uint32)
    public const int AlgoConfigStagesId = 6;      // CUBLASLT_ALGO_CONFIG_STAGES_ID
    public const int AlgoConfigClusterShapeId = 8; // CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID (uint16)
    public const int AlgoCapSplitKSupport = 0;    // CUBLASLT_ALGO_CAP_SPLITK_SUPPORT (int32)
    public const int AlgoCapReductionSchemeMask = 1; // CUBLASLT_ALGO_CAP_REDUCTION_SCHEME_MASK (uint32)
    public const int AlgoCapCtaSwizzlingSupport = 2; // CUBLASLT_ALGO_CAP_CTA_SWIZZLING_SUPPORT (uint32)
    public const int AlgoCapTileIds = 6;          // CUBLASLT_ALGO_CAP_TILE_IDS (uint32 array)
    public const int AlgoCapCustomOptionMax = 7;  // CUBLASLT_ALGO_CAP_CUSTOM_OPTION_MAX (int32)
    public const int AlgoCapStagesIds = 13;       // CUBLASLT_ALGO_CAP_STAGES_IDS (uint32 array)

    /// <summary>cublasLtMatmulAlgo_t: 64 opaque bytes, passed by address.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Algo
    {
        public fixed ulong Data[8];
    }

    /// <summary>cublasLtMatmulHeuristicResult_t.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct HeuristicResult
    {
        public Algo Algo;
        public nuint WorkspaceSize;
        public int State;
        public float WavesCount;
        public fixed int Reserved[4];
    }

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtCreate(out IntPtr handle);

    /// <summary>The loaded cuBLASLt's version (major × 10000 + minor × 100 + patch).</summary>
    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial nuint cublasLtGetVersion();

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtDestroy(IntPtr handle);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatmulDescCreate(out IntPtr desc, int computeType, int scaleType);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatmulDescSetAttribute(IntPtr desc, int attribute, void* value, nuint size);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatmulDescDestroy(IntPtr desc);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatrixLayoutCreate(out IntPtr layout, int type, ulong rows, ulong columns, long leadingDimension);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatrixLayoutDestroy(IntPtr layout);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatmulPreferenceCreate(out IntPtr preference);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatmulPreferenceSetAttribute(IntPtr preference, int attribute, void* value, nuint size);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatmulPreferenceDestroy(IntPtr preference);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatmulAlgoGetHeuristic(IntPtr handle, IntPtr desc, IntPtr a, IntPtr b, IntPtr c, IntPtr d,
        IntPtr preference, int requested, HeuristicResult* results, out int returned);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatmulAlgoConfigGetAttribute(Algo* algo, int attribute, void* value, nuint size, out nuint written);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatmulAlgoConfigSetAttribute(Algo* algo, int attribute, void* value, nuint size);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatmulAlgoCapGetAttribute(Algo* algo, int attribute, void* value, nuint size, out nuint written);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatmulAlgoGetIds(IntPtr handle, int computeType, int scaleType, int aType, int bType, int cType,
        int dType, int requested, int* ids, out int returned);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatmulAlgoInit(IntPtr handle, int computeType, int scaleType, int aType, int bType, int cType,
        int dType, int algoId, Algo* algo);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatmulAlgoCheck(IntPtr handle, IntPtr desc, IntPtr a, IntPtr b, IntPtr c, IntPtr d, Algo* algo,
        HeuristicResult* result);

    [LibraryImport(NativeLibraries.CublasLt)]
    public static partial int cublasLtMatmul(IntPtr handle, IntPtr desc, float* alpha, IntPtr a, IntPtr aLayout, IntPtr b, IntPtr bLayout,
        float* beta, IntPtr c, IntPtr cLayout, IntPtr d, IntPtr dLayout, Algo* algo, IntPtr workspace, nuint workspaceBytes, IntPtr stream);

    /// <summary>Throws, naming the call and cuBLAS's status, when a cuBLASLt call failed.</summary>
    public static void Check(int status, string call)
    {
        if (status != 0)
            throw new CudaException($"{call} failed: cuBLAS status {status}");
    }
}
