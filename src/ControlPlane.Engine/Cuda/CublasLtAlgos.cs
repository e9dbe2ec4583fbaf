namespace ControlPlane.Engine.Cuda;

/// <summary>
/// A cuBLASLt algorithm's configuration as values (<c>cublasLtMatmulAlgo_t</c> is 64 opaque bytes, copied freely): its
/// capabilities, a copy with one attribute set, the copies that vary one attribute over every value it may take (what
/// <see cref="DecodeProducts"/>' search walks through, each then checked against the shape by cuBLASLt), a key to tell
/// configurations apart, and a description for the logs.
/// </summary>
internal static unsafe class CublasLtAlgos
{
    private static readonly int[] SplitKs = [1, 2, 3, 4, 6, 8, 12, 16];
    private static readonly int[] ReductionSchemes = [1, 2, 4]; // in place, compute type, output type
    private const int MaxClusterShapeId = 47;
    private const int MaxCustomOption = 255;

    /// <summary>The attributes a search varies, in the order it varies them: tile, stages, k split with each reduction scheme, CTA swizzling, custom option, cluster shape.</summary>
    public static readonly IReadOnlyList<Func<CublasLtApi.Algo, IEnumerable<CublasLtApi.Algo>>> Variations =
        [Tiles, Stages, SplitK, Swizzles, CustomOptions, ClusterShapes];

    private static IEnumerable<CublasLtApi.Algo> Tiles(CublasLtApi.Algo algo) =>
        CapArray(algo, CublasLtApi.AlgoCapTileIds).Select(t => With(algo, CublasLtApi.AlgoConfigTileId, t));

    private static IEnumerable<CublasLtApi.Algo> Stages(CublasLtApi.Algo algo) =>
        CapArray(algo, CublasLtApi.AlgoCapStagesIds).Select(t => With(algo, CublasLtApi.AlgoConfigStagesId, t));

    private static IEnumerable<CublasLtApi.Algo> SplitK(CublasLtApi.Algo algo)
    {
        if (CapInt(algo, CublasLtApi.AlgoCapSplitKSupport) == 0)
            yield break;
        var mask = (uint)CapInt(algo, CublasLtApi.AlgoCapReductionSchemeMask);
        foreach (var splits in SplitKs)
        {
            var split = With(algo, CublasLtApi.AlgoConfigSplitK, (uint)splits);
            if (splits == 1)
            {
                yield return With(split, CublasLtApi.AlgoConfigReductionScheme, 0u);
                continue;
            }
            foreach (var scheme in ReductionSchemes.Where(r => (mask & r) != 0))
                yield return With(split, CublasLtApi.AlgoConfigReductionScheme, (uint)scheme);
        }
    }

    private static IEnumerable<CublasLtApi.Algo> Swizzles(CublasLtApi.Algo algo) =>
        CapInt(algo, CublasLtApi.AlgoCapCtaSwizzlingSupport) == 0 ? [] : [With(algo, CublasLtApi.AlgoConfigCtaSwizzling, 0u), With(algo, CublasLtApi.AlgoConfigCtaSwizzling, 1u)];

    private static IEnumerable<CublasLtApi.Algo> CustomOptions(CublasLtApi.Algo algo) =>
        Enumerable.Range(0, Math.Min(MaxCustomOption, Math.Max(0, CapInt(algo, CublasLtApi.AlgoCapCustomOptionMax))) + 1)
            .Select(o => With(algo, CublasLtApi.AlgoConfigCustomOption, (uint)o));

    private static IEnumerable<CublasLtApi.Algo> ClusterShapes(CublasLtApi.Algo algo) =>
        Enumerable.Range(0, MaxClusterShapeId + 1).Select(c => With16(algo, CublasLtApi.AlgoConfigClusterShapeId, (ushort)c));

    public static CublasLtApi.Algo With(CublasLtApi.Algo algo, int attribute, uint value)
    {
        _ = CublasLtApi.cublasLtMatmulAlgoConfigSetAttribute(&algo, attribute, &value, sizeof(uint));
        return algo;
    }

    private static CublasLtApi.Algo With16(CublasLtApi.Algo algo, int attribute, ushort value)
    {
        _ = CublasLtApi.cublasLtMatmulAlgoConfigSetAttribute(&algo, attribute, &value, sizeof(ushort));
        return algo;
    }

    public static uint[] CapArray(CublasLtApi.Algo algo, int attribute)
    {
        if (CublasLtApi.cublasLtMatmulAlgoCapGetAttribute(&algo, attribute, null, 0, out var bytes) != 0 || bytes == 0)
            return [];
        var values = new uint[(int)bytes / sizeof(uint)];
        fixed (uint* p = values)
            return CublasLtApi.cublasLtMatmulAlgoCapGetAttribute(&algo, attribute, p, bytes, out _) == 0 ? values : [];
    }

    private static int CapInt(CublasLtApi.Algo algo, int attribute)
    {
        var value = 0;
        return CublasLtApi.cublasLtMatmulAlgoCapGetAttribute(&algo, attribute, &value, sizeof(int), out _) == 0 ? value : 0;
    }

    public static string Key(CublasLtApi.Algo algo) =>
        $"{algo.Data[0]:x}.{algo.Data[1]:x}.{algo.Data[2]:x}.{algo.Data[3]:x}.{algo.Data[4]:x}.{algo.Data[5]:x}.{algo.Data[6]:x}.{algo.Data[7]:x}";

    public static string Describe(CublasLtApi.Algo algo) =>
        $"lt algo {Attribute(algo, CublasLtApi.AlgoConfigId)} tile {Attribute(algo, CublasLtApi.AlgoConfigTileId)} splitK {Attribute(algo, CublasLtApi.AlgoConfigSplitK)}" +
        $" reduction {Attribute(algo, CublasLtApi.AlgoConfigReductionScheme)} stages {Attribute(algo, CublasLtApi.AlgoConfigStagesId)}" +
        $" swizzle {Attribute(algo, CublasLtApi.AlgoConfigCtaSwizzling)} custom {Attribute(algo, CublasLtApi.AlgoConfigCustomOption)}" +
        $" cluster {Attribute16(algo, CublasLtApi.AlgoConfigClusterShapeId)}";

    private static int Attribute16(CublasLtApi.Algo algo, int attribute)
    {
        ushort value = 0;
        return CublasLtApi.cublasLtMatmulAlgoConfigGetAttribute(&algo, attribute, &value, sizeof(ushort), out _) == 0 ? value : -1;
    }

    private static int Attribute(CublasLtApi.Algo algo, int attribute)
    {
        var value = 0;
        return CublasLtApi.cublasLtMatmulAlgoConfigGetAttribute(&algo, attribute, &value, sizeof(int), out _) == 0 ? value : -1;
    }
}
