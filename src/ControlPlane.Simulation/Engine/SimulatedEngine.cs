using ControlPlane.Engines;
using ControlPlane.Requests;
using ControlPlane.Simulation.Performance;

namespace ControlPlane.Simulation.Engine;

/// <summary>
/// An engine without a model: continuous batching with chunked prefill, KV block admission and recompute
/// preemption, as a real engine schedules; each step lasts what the performance profile says. The same
/// class steps in real time (<see cref="StepAsync"/>) or virtual time (<see cref="ComputeStep"/>).
/// </summary>
public sealed partial class SimulatedEngine : IEngine
{
    public const string BackendName = "simulated";
    public const string KvLayout = "simulated/token-ids";

    private readonly PerformanceProfile _profile;
    private readonly TimeProvider _time;
    private readonly Random _random;
    private readonly KvBlockCounter _blocks;
    private readonly SortedSet<SimulatedSequence> _waiting = new(SequenceOrder.Instance);
    private readonly List<SimulatedSequence> _running = [];
    private readonly Dictionary<string, SimulatedSequence> _byId = new(StringComparer.Ordinal);
    private long _arrivals;
    private long _preemptions;
    private TimeSpan _lateness;

    public SimulatedEngine(string model, PerformanceProfile profile, TimeProvider? time = null, Random? random = null, int? totalKvBlocks = null)
    {
        _profile = profile;
        _time = time ?? TimeProvider.System;
        _random = random ?? new Random();
        _blocks = new KvBlockCounter(totalKvBlocks ?? profile.TotalKvBlocks);
        Descriptor = new EngineDescriptor
        {
            Model = model,
            Backend = BackendName,
            KvBlockSize = profile.KvBlockSize,
            TotalKvBlocks = _blocks.Total,
            MaxContextTokens = profile.MaxContextTokens,
        };
    }

    public EngineDescriptor Descriptor { get; }
    public bool HasWork => _waiting.Count > 0 || _running.Count > 0;
    private int BlockSize => _profile.KvBlockSize;

    public void Add(RequestSpec request)
    {
        if (_byId.ContainsKey(request.RequestId))
            throw new EngineRejectedException($"request '{request.RequestId}' is already in this engine");
        var tokens = request.PromptTokenIds.Count + request.Sampling.MaxTokens;
        if (tokens > Descriptor.MaxContextTokens)
            throw new EngineRejectedException($"prompt ({request.PromptTokenIds.Count}) plus max tokens ({request.Sampling.MaxTokens}) exceed the context of {Descriptor.MaxContextTokens}");
        if ((request.PromptTokenIds.Count + BlockSize) / BlockSize > _blocks.Total)
            throw new EngineRejectedException($"a prompt of {request.PromptTokenIds.Count} tokens needs more KV blocks than this engine has ({_blocks.Total})");
        var sequence = new SimulatedSequence(request, RandomFor(request), _arrivals++);
        _byId.Add(request.RequestId, sequence);
        _waiting.Add(sequence);
    }

    /// <summary>
    /// Runs a step and waits out its modelled duration. Timers fire late (about a millisecond on Linux), so
    /// the lateness is carried into the next step's wait: over a run, steps last what the profile says.
    /// </summary>
    public async ValueTask<EngineStepResult> StepAsync(CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var result = ComputeStep();
        // Repay at most half a step: after a long stall (a starved CPU), steps must not burst back to back.
        var repay = TimeSpan.FromTicks(Math.Min(_lateness.Ticks, result.Duration.Ticks / 2));
        var wait = result.Duration - _time.GetElapsedTime(started) - repay;
        if (wait > TimeSpan.Zero)
        {
            var sleepStart = _time.GetTimestamp();
            await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
            _lateness = _lateness - repay + (_time.GetElapsedTime(sleepStart) - wait);
        }
        else
        {
            // This step repaid what its modelled time left over; computing longer than modelled adds no debt.
            _lateness -= TimeSpan.FromTicks(Math.Max(0, (repay + wait).Ticks));
        }
        if (!HasWork)
            _lateness = TimeSpan.Zero; // an idle engine owes nothing
        return result;
    }

    public bool Abort(string requestId)
    {
        if (!_byId.Remove(requestId, out var sequence))
        {
            var importing = _imports.ContainsKey(requestId);
            DropImport(requestId);
            return importing;
        }
        _waiting.Remove(sequence);
        _running.Remove(sequence);
        ReleaseBlocks(sequence);
        return true;
    }

    public EngineSnapshot Snapshot()
    {
        var waitingBlocks = 0;
        foreach (var s in _waiting)
            waitingBlocks += s.BlocksFor(s.ContextTokens + 1, BlockSize) - s.HeldBlocks;
        return new EngineSnapshot
        {
            RunningRequests = _running.Count,
            WaitingRequests = _waiting.Count,
            UsedKvBlocks = _blocks.Used,
            TotalKvBlocks = _blocks.Total,
            WaitingKvBlocks = waitingBlocks,
            PreemptionCount = _preemptions,
        };
    }

    public void Dispose()
    {
        foreach (var id in _byId.Keys.ToArray())
            Abort(id);
    }

    private Random RandomFor(RequestSpec request) => OutputRules.RandomFor(request, _random);

    private void ReleaseBlocks(SimulatedSequence sequence)
    {
        _blocks.Release(sequence.HeldBlocks);
        sequence.HeldBlocks = 0;
    }
}
