using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ControlPlane.Engine.Cuda;

// Finding each shape's product: libtorch's time, the search over cuBLASLt's configurations, and the finalists' checks.
public sealed unsafe partial class DecodeProducts
{
    private const int Requested = 16;
    private const int MaxSeeds = 512;
    private const int QuickCalls = 6;
    private const int Sweeps = 2;
    private const int Finalists = 4;
    private const int CallsPerRound = 20;
    private const int Rounds = 2;

    private int[]? _algoIds;
    private bool _searchedSinceSave;

    private void Tune(int m, IReadOnlyList<Tensor> weights, bool accumulate)
    {
        var n = (int)weights[0].shape[0];
        var k = (int)weights[0].shape[1];
        if (_plans.ContainsKey((m, n, k, accumulate)) || weights.Any(w => !w.is_contiguous() || w.dtype != _dtype))
            return;
        using var scope = NewDisposeScope();
        var plan = NewPlan(m, n, k);
        var x = (randn([m, k], ScalarType.Float32, _device) * 0.5).to(_dtype);
        var start = (randn([m, n], ScalarType.Float32, _device) * 0.5).to(_dtype);
        var reference = accumulate ? start.clone().addmm_(x, weights[0].t()) : F.linear(x, weights[0]);
        var tolerance = reference.abs().max().to(ScalarType.Float32).item<float>() / 64 + 1e-3f;
        if (_cache is { } cache && cache.TryGet(m, n, k, accumulate, out var kept) && Reuse(plan, kept, x, weights[0], start, reference, tolerance))
            return;
        var target = accumulate ? start.clone() : empty([m, n], _dtype, _device);
        var torchTime = GpuTimer.Microseconds(i =>
        {
            if (accumulate)
                target.addmm_(x, weights[i % weights.Count].t());
            else
                F.linear(x, weights[i % weights.Count]).Dispose();
        }, _dtype, _device, CallsPerRound, Rounds);
        var ranked = Search(plan, x, weights, target, accumulate);
        var best = (Time: double.MaxValue, Algo: default(CublasLtApi.Algo), Found: false);
        var rejected = 0;
        foreach (var (algo, _) in ranked.Take(Finalists))
        {
            if (!Valid(plan, algo, x, weights[0], start, reference, tolerance, accumulate))
            {
                rejected++;
                continue;
            }
            var time = GpuTimer.Microseconds(i => Launch(plan, algo, x, weights[i % weights.Count], target, accumulate, IntPtr.Zero),
                _dtype, _device, CallsPerRound, Rounds);
            if (time < best.Time)
                best = (time, algo, true);
        }
        Choice choice;
        if (best.Found && best.Time < 0.98 * torchTime)
        {
            plan.Algo = best.Algo;
            _plans[(m, n, k, accumulate)] = plan;
            choice = new Choice(m, n, k, accumulate, torchTime, best.Time, CublasLtAlgos.Describe(best.Algo), ranked.Count, rejected);
        }
        else
        {
            _plans[(m, n, k, accumulate)] = null;
            choice = new Choice(m, n, k, accumulate, torchTime, best.Found ? best.Time : double.NaN,
                best.Found ? $"torch kept (best {CublasLtAlgos.Describe(best.Algo)})" : "torch kept", ranked.Count, rejected);
        }
        _choices.Add(choice);
        _searched++;
        _searchedSinceSave = true;
        _cache?.Add(new DecodeProductsCache.Entry(m, n, k, accumulate, _plans[(m, n, k, accumulate)] is null ? null : Encode(best.Algo),
            torchTime, choice.ChosenMicroseconds, choice.Algorithm, ranked.Count, rejected));
    }

    /// <summary>Same values as libtorch's to bf16 rounding, and the same bits twice: else a configuration is not taken.</summary>
    private bool Valid(Plan plan, CublasLtApi.Algo algo, Tensor x, Tensor weight, Tensor start, Tensor reference, float tolerance, bool accumulate)
    {
        var m = (int)x.shape[0];
        var n = (int)weight.shape[0];
        var first = accumulate ? start.clone() : empty([m, n], _dtype, _device);
        var second = accumulate ? start.clone() : empty([m, n], _dtype, _device);
        try
        {
            Launch(plan, algo, x, weight, first, accumulate, IntPtr.Zero);
            Launch(plan, algo, x, weight, second, accumulate, IntPtr.Zero);
        }
        catch (CudaException)
        {
            return false;
        }
        var error = (first.to(ScalarType.Float32) - reference.to(ScalarType.Float32)).abs().max().item<float>();
        return error <= tolerance && first.eq(second).all().item<bool>();
    }

    /// <summary>
    /// Takes a shape's choice from the cache: libtorch's product where it was kept, else the stored algorithm if cuBLASLt
    /// still accepts it for the shape and it passes <see cref="Valid"/>; false (search afresh) otherwise.
    /// </summary>
    private bool Reuse(Plan plan, DecodeProductsCache.Entry kept, Tensor x, Tensor weight, Tensor start, Tensor reference, float tolerance)
    {
        var key = (kept.Rows, kept.Outputs, kept.Inputs, kept.Accumulate);
        if (kept.Algorithm is null)
            _plans[key] = null;
        else if (TryDecode(kept.Algorithm, out var algo) && Check(plan, algo) && Valid(plan, algo, x, weight, start, reference, tolerance, kept.Accumulate))
        {
            plan.Algo = algo;
            _plans[key] = plan;
        }
        else
            return false;
        _choices.Add(new Choice(kept.Rows, kept.Outputs, kept.Inputs, kept.Accumulate, kept.TorchMicroseconds, kept.ChosenMicroseconds,
            $"cached: {kept.Description}", kept.Candidates, kept.Rejected));
        _reused++;
        return true;
    }

    /// <summary>
    /// Every configuration timed for the shape, fastest first by the quick timing: the seeds (the heuristic's candidates,
    /// each listed algorithm at each of its tiles), then from the fastest so far each attribute varied in turn.
    /// </summary>
    private List<(CublasLtApi.Algo Algo, double Microseconds)> Search(Plan plan, Tensor x, IReadOnlyList<Tensor> weights, Tensor target, bool accumulate)
    {
        var timed = new Dictionary<string, (CublasLtApi.Algo Algo, double Microseconds)>();
        // Times, in one queue, the best so far (where given) and every configuration not timed before that cuBLASLt accepts;
        // returns the best so far's time again (NaN where not given) and the new ones' times.
        (double Again, List<(CublasLtApi.Algo Algo, double Microseconds)> Fresh) Time(CublasLtApi.Algo? incumbent, IEnumerable<CublasLtApi.Algo> algos)
        {
            var keys = new HashSet<string>();
            var fresh = new List<CublasLtApi.Algo>();
            foreach (var algo in algos)
            {
                var key = CublasLtAlgos.Key(algo);
                if (!timed.ContainsKey(key) && keys.Add(key) && Check(plan, algo))
                    fresh.Add(algo);
            }
            if (fresh.Count == 0)
                return (double.NaN, []);
            var queue = (incumbent is { } i ? fresh.Prepend(i) : fresh).ToArray();
            var times = GpuTimer.MicrosecondsEach(queue.Select(a => (Action<int>)(c =>
                Launch(plan, a, x, weights[c % weights.Count], target, accumulate, IntPtr.Zero))).ToArray(), _dtype, _device, QuickCalls);
            var offset = incumbent is null ? 0 : 1;
            var result = new List<(CublasLtApi.Algo, double)>();
            for (var f = 0; f < fresh.Count; f++)
            {
                if (double.IsNaN(times[f + offset]))
                    continue;
                timed[CublasLtAlgos.Key(fresh[f])] = (fresh[f], times[f + offset]);
                result.Add((fresh[f], times[f + offset]));
            }
            return (offset == 1 ? times[0] : double.NaN, result);
        }

        Time(null, Heuristics(plan).Select(r => r.Algo).Concat(Seeds(plan)).Take(MaxSeeds));
        if (timed.Count == 0)
            return [];
        var current = timed.Values.MinBy(t => t.Microseconds);
        for (var sweep = 0; sweep < Sweeps; sweep++)
        {
            foreach (var vary in CublasLtAlgos.Variations)
            {
                // The best so far is timed again in the same queue as its variants: a move must win side by side, by 1 %.
                var (again, round) = Time(current.Algo, vary(current.Algo));
                if (round.Count == 0)
                    continue;
                var challenger = round.MinBy(t => t.Microseconds);
                if (challenger.Microseconds < 0.99 * (double.IsNaN(again) ? current.Microseconds : again))
                    current = challenger;
            }
        }
        return timed.Values.OrderBy(t => t.Microseconds).ToList();
    }

    /// <summary>Every algorithm cuBLASLt lists for the types, at each tile it offers (with its default stages, else the first that checks).</summary>
    private List<CublasLtApi.Algo> Seeds(Plan plan)
    {
        if (_algoIds is null)
        {
            var ids = new int[256];
            int returned;
            fixed (int* p = ids)
                returned = CublasLtApi.cublasLtMatmulAlgoGetIds(_handle, CublasLtApi.ComputeType32F, CublasLtApi.DataType32F, _dataType, _dataType,
                    _dataType, _dataType, ids.Length, p, out var count) == 0 ? count : 0;
            _algoIds = ids.Take(returned).ToArray();
        }
        var seeds = new List<CublasLtApi.Algo>();
        foreach (var id in _algoIds)
        {
            CublasLtApi.Algo algo;
            if (CublasLtApi.cublasLtMatmulAlgoInit(_handle, CublasLtApi.ComputeType32F, CublasLtApi.DataType32F, _dataType, _dataType,
                    _dataType, _dataType, id, &algo) != 0)
                continue;
            var tiles = CublasLtAlgos.CapArray(algo, CublasLtApi.AlgoCapTileIds);
            foreach (var tile in tiles.Length == 0 ? new uint[] { 0 } : tiles)
            {
                var withTile = CublasLtAlgos.With(algo, CublasLtApi.AlgoConfigTileId, tile);
                if (Check(plan, withTile))
                {
                    seeds.Add(withTile);
                    continue;
                }
                foreach (var stages in CublasLtAlgos.CapArray(algo, CublasLtApi.AlgoCapStagesIds))
                {
                    var withStages = CublasLtAlgos.With(withTile, CublasLtApi.AlgoConfigStagesId, stages);
                    if (Check(plan, withStages))
                    {
                        seeds.Add(withStages);
                        break;
                    }
                }
            }
        }
        return seeds;
    }

    /// <summary>Whether cuBLASLt accepts the configuration for the plan's shapes, within the workspace.</summary>
    private bool Check(Plan plan, CublasLtApi.Algo algo)
    {
        CublasLtApi.HeuristicResult result;
        return CublasLtApi.cublasLtMatmulAlgoCheck(_handle, plan.Desc, plan.A, plan.B, plan.C, plan.C, &algo, &result) == 0
            && result.State == 0 && result.WorkspaceSize <= (nuint)WorkspaceBytes;
    }

    private CublasLtApi.HeuristicResult[] Heuristics(Plan plan)
    {
        CublasLtApi.Check(CublasLtApi.cublasLtMatmulPreferenceCreate(out var preference), "cublasLtMatmulPreferenceCreate");
        try
        {
            var bytes = (ulong)WorkspaceBytes;
            CublasLtApi.Check(CublasLtApi.cublasLtMatmulPreferenceSetAttribute(preference, CublasLtApi.PreferenceMaxWorkspaceBytes, &bytes, sizeof(ulong)),
                "cublasLtMatmulPreferenceSetAttribute");
            var results = new CublasLtApi.HeuristicResult[Requested];
            int returned;
            fixed (CublasLtApi.HeuristicResult* r = results)
                CublasLtApi.Check(CublasLtApi.cublasLtMatmulAlgoGetHeuristic(_handle, plan.Desc, plan.A, plan.B, plan.C, plan.C, preference, Requested, r, out returned),
                    "cublasLtMatmulAlgoGetHeuristic");
            return results.Take(returned).Where(r => r.State == 0 && r.WorkspaceSize <= (nuint)WorkspaceBytes).ToArray();
        }
        finally
        {
            _ = CublasLtApi.cublasLtMatmulPreferenceDestroy(preference);
        }
    }
}
