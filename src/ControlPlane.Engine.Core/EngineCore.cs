using System.Diagnostics;
using ControlPlane.Engine.Core.KvCache;
using ControlPlane.Engine.Core.Output;
using ControlPlane.Engine.Core.Requests;
using ControlPlane.Engine.Core.Scheduling;
using ControlPlane.Engines;
using ControlPlane.KvCache;
using ControlPlane.Requests;
using ControlPlane.Tokenization;

namespace ControlPlane.Engine.Core;

/// <summary>
/// The engine every backend is: one <see cref="StepScheduler"/> over one <see cref="KvBlockPool"/> plans each
/// step, an <see cref="IStepRunner"/> computes it, and the output rules end requests alike everywhere.
/// Continuous batching, chunked prefill, prefix sharing, recompute preemption, abort and KV export/import
/// are written once, here. Driven from one loop (see <see cref="IEngine"/>).
/// </summary>
public partial class EngineCore : IEngine
{
    private readonly IStepRunner _runner;
    private readonly ITokenizer _tokenizer;
    private readonly Func<ITokenTextDecoder> _newDecoder;
    private readonly Random _random;
    private long _arrivals;

    public EngineCore(string model, IStepRunner runner, int kvBlocks, SchedulerOptions options, ITokenizer tokenizer,
        Func<ITokenTextDecoder>? newDecoder = null, Random? random = null)
    {
        _runner = runner;
        _tokenizer = tokenizer;
        _newDecoder = newDecoder ?? (() => new IncrementalDetokenizer(tokenizer));
        _random = random ?? new Random();
        Pool = new KvBlockPool(kvBlocks);
        Hasher = new KvBlockHasher(model, options.KvBlockSize);
        Scheduler = new StepScheduler(options, Pool, Hasher);
        Descriptor = new EngineDescriptor
        {
            Model = model,
            Backend = runner.Backend,
            KvBlockSize = options.KvBlockSize,
            TotalKvBlocks = kvBlocks,
            MaxContextTokens = options.MaxContextTokens,
            KvBytesPerBlock = runner.KvLayout.BytesPerBlock,
        };
    }

    public EngineDescriptor Descriptor { get; }
    public bool HasWork => Scheduler.HasWork;
    public KvBlockPool Pool { get; }

    /// <summary>Names full blocks as every engine of this model and block size does (the prefix index's names).</summary>
    public KvBlockHasher Hasher { get; }
    public StepScheduler Scheduler { get; }

    public void Add(RequestSpec request)
    {
        if (Scheduler.Contains(request.RequestId) || _imports.ContainsKey(request.RequestId))
            throw new EngineRejectedException($"request '{request.RequestId}' is already in this engine");
        if (request.PromptTokenIds.Count == 0)
            throw new EngineRejectedException("the prompt is empty");
        if (request.PromptTokenIds.Count + request.Sampling.MaxTokens > Descriptor.MaxContextTokens)
            throw new EngineRejectedException($"prompt ({request.PromptTokenIds.Count}) plus max tokens ({request.Sampling.MaxTokens}) exceed the context of {Descriptor.MaxContextTokens}");
        if (Scheduler.BlocksFor(request.PromptTokenIds.Count + 1) > Pool.Total)
            throw new EngineRejectedException($"a prompt of {request.PromptTokenIds.Count} tokens needs more KV blocks than this engine has ({Pool.Total})");
        var vocabulary = _tokenizer.VocabularySize;
        foreach (var t in request.PromptTokenIds)
        {
            if (t < 0 || t >= vocabulary)
                throw new EngineRejectedException($"the prompt holds token id {t}, outside the vocabulary of {vocabulary}");
        }
        if (request.Progress is not { } progress)
        {
            Scheduler.Add(NewRequest(request, RequestRandom.SeedFor(request.Sampling.Seed, _random), 0));
            return;
        }
        if (progress.OutputTokenIds.Count >= request.Sampling.MaxTokens)
            throw new EngineRejectedException($"the request already produced {progress.OutputTokenIds.Count} of its {request.Sampling.MaxTokens} tokens");
        foreach (var t in progress.OutputTokenIds)
        {
            if (t < 0 || t >= vocabulary)
                throw new EngineRejectedException($"the request's output holds token id {t}, outside the vocabulary of {vocabulary}");
        }
        Scheduler.Add(Continue(request, progress));
    }

    /// <summary>
    /// A request that ran elsewhere, rebuilt from its output: its random stream continues after one draw per
    /// sampled token (greedy requests take none), its text and stop-string state are replayed, and its keys and
    /// values are recomputed like those of a preempted request.
    /// </summary>
    private EngineRequest Continue(RequestSpec spec, RequestProgress progress)
    {
        var draws = OutputRules.IsGreedy(spec.Sampling) ? 0 : progress.OutputTokenIds.Count;
        var request = NewRequest(spec, RequestRandom.SeedFor(spec.Sampling.Seed, _random), draws);
        request.OutputTokenIds.AddRange(progress.OutputTokenIds);
        request.NextOutputSequence = progress.NextSequence;
        foreach (var token in progress.OutputTokenIds)
            request.Stops.Append(request.Text.Add(token));
        return request;
    }

    public async ValueTask<EngineStepResult> StepAsync(CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var result = ComputeStep();
        await _runner.PaceAsync(result.Duration, Stopwatch.GetElapsedTime(started), !HasWork, cancellationToken).ConfigureAwait(false);
        return result;
    }

    /// <summary>Plans and runs one step without waiting out its duration (the simulator's virtual time calls this).</summary>
    public EngineStepResult ComputeStep()
    {
        var plan = Scheduler.Schedule();
        if (plan.Chunks.Count == 0)
            return EngineStepResult.Empty with { KvEvents = DrainKvEvents() };
        var run = _runner.Run(plan);
        AttributeEnergy(plan, run);
        var outputs = new List<RequestOutput>(plan.Chunks.Count);
        for (var i = 0; i < plan.Chunks.Count; i++)
        {
            var chunk = plan.Chunks[i];
            Scheduler.Advance(chunk);
            if (chunk.Samples)
                outputs.Add(Emit(chunk.Request, run.Tokens[i]));
        }
        if (plan.PrefillTokens > 0 && run.Duration > TimeSpan.Zero)
        {
            var rate = plan.PrefillTokens / run.Duration.TotalSeconds;
            _prefillRate = _prefillRate == 0 ? rate : 0.8 * _prefillRate + 0.2 * rate;
        }
        return new EngineStepResult
        {
            Outputs = outputs,
            PrefillTokens = plan.PrefillTokens,
            DecodeSequences = plan.DecodeSequences,
            Duration = run.Duration,
            KvEvents = DrainKvEvents(),
        };
    }

    public bool Abort(string requestId) => Scheduler.Remove(requestId) || DropImport(requestId);

    /// <summary>
    /// The GPU's draw in watts where the runner does not model a step's energy (a real GPU: the draw last measured),
    /// so that each step's energy is estimated as draw × duration. Null: no energy is attributed.
    /// </summary>
    public Func<double>? DrawWatts { get; set; }

    /// <summary>Shares the step's energy between its chunks by the tokens each computed (a decode token counts as one).</summary>
    private void AttributeEnergy(Scheduling.StepPlan plan, StepRun run)
    {
        var joules = run.EnergyJoules ?? (DrawWatts is { } draw ? draw() * run.Duration.TotalSeconds : (double?)null);
        if (joules is not { } energy || energy <= 0)
            return;
        _attributesEnergy = true;
        var tokens = 0;
        foreach (var chunk in plan.Chunks)
            tokens += chunk.Count;
        if (tokens == 0)
            return;
        foreach (var chunk in plan.Chunks)
            chunk.Request.EnergyJoules += energy * chunk.Count / tokens;
    }

    private bool _attributesEnergy;

    public EngineSnapshot Snapshot() => new()
    {
        RunningRequests = Scheduler.Running + Scheduler.Suspended,
        WaitingRequests = Scheduler.Waiting,
        UsedKvBlocks = Pool.Used,
        TotalKvBlocks = Pool.Total,
        WaitingKvBlocks = Scheduler.WaitingBlocks(),
        PreemptionCount = Scheduler.Preemptions,
        BatchRequests = Scheduler.BatchRequests,
        PriorityRequests = Scheduler.PriorityRequests,
        PrefillTokensPerSecond = _prefillRate,
    };

    // Prompt tokens per second of step time; steps that carry decodes beside the prefill count whole, so it errs low
    // (a prediction from it errs towards a longer wait).
    private double _prefillRate;

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (!disposing)
            return;
        foreach (var id in Scheduler.RequestIds.ToArray())
            Scheduler.Remove(id);
        foreach (var id in _imports.Keys.ToArray())
            DropImport(id);
        HostTier?.Dispose();
        _runner.Dispose();
    }

    private EngineRequest NewRequest(RequestSpec spec, ulong seed, long draws) =>
        new(spec, _arrivals++, new RequestRandom(seed, draws), _newDecoder());

    private RequestOutput Emit(EngineRequest request, int token)
    {
        request.OutputTokenIds.Add(token);
        var (text, finish) = OutputRules.Apply(request.Spec.Sampling, token, request.OutputTokenIds.Count,
            _tokenizer.EndOfSequenceTokenIds, request.Stops, () => request.Text.Add(token), request.Text.Flush);
        if (finish != FinishReason.None)
            Scheduler.Remove(request.Id);
        return new RequestOutput
        {
            RequestId = request.Id,
            NewTokenIds = [token],
            TextDelta = text,
            FinishReason = finish,
            PromptTokens = request.PromptTokens,
            CompletionTokens = request.OutputTokenIds.Count,
            CachedPromptTokens = request.CachedPromptTokens,
            HostCachedPromptTokens = Math.Min(request.LoadedPromptTokens, request.CachedPromptTokens),
            EnergyJoules = _attributesEnergy ? request.EnergyJoules : null,
            Sequence = request.NextOutputSequence++,
        };
    }
}
