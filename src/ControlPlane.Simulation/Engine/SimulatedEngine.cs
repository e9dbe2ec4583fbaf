using ControlPlane.Engine.Core;
using ControlPlane.Engine.Core.Scheduling;
using ControlPlane.Simulation.Performance;
using ControlPlane.Simulation.Tokenization;

namespace ControlPlane.Simulation.Engine;

/// <summary>
/// An engine without a model: the shared <see cref="EngineCore"/> (continuous batching, chunked prefill,
/// prefix sharing, KV admission and recompute preemption, as a real engine schedules) over a runner whose
/// steps last what the performance profile says. The same class steps in real time (<see cref="EngineCore.StepAsync"/>)
/// or virtual time (<see cref="EngineCore.ComputeStep"/>).
/// </summary>
public sealed class SimulatedEngine : EngineCore
{
    public const string BackendName = SimulatedStepRunner.BackendName;
    public const string KvLayout = SimulatedStepRunner.KvLayout;

    public SimulatedEngine(string model, PerformanceProfile profile, TimeProvider? time = null, Random? random = null, int? totalKvBlocks = null)
        : this(model, profile, new SimulatedStepRunner(profile, time ?? TimeProvider.System), random, totalKvBlocks)
    {
    }

    private SimulatedEngine(string model, PerformanceProfile profile, SimulatedStepRunner runner, Random? random, int? totalKvBlocks)
        : base(model, runner, totalKvBlocks ?? profile.TotalKvBlocks,
        new SchedulerOptions
        {
            KvBlockSize = profile.KvBlockSize,
            MaxBatchedTokens = profile.MaxBatchedTokens,
            MaxRunningRequests = profile.MaxRunningRequests,
            MaxContextTokens = profile.MaxContextTokens,
        },
        SimulatedTokenizer.Instance, static () => SimulatedWordDecoder.Instance, random ?? new Random())
    {
        Power = runner.Power;
    }

    /// <summary>The modelled GPU's cap and energy; null when the profile has no power model.</summary>
    public Power.PowerMeter? Power { get; }
}
