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
public sealed class SimulatedEngine(string model, PerformanceProfile profile, TimeProvider? time = null, Random? random = null, int? totalKvBlocks = null)
    : EngineCore(model, new SimulatedStepRunner(profile, time ?? TimeProvider.System), totalKvBlocks ?? profile.TotalKvBlocks,
        new SchedulerOptions
        {
            KvBlockSize = profile.KvBlockSize,
            MaxBatchedTokens = profile.MaxBatchedTokens,
            MaxRunningRequests = profile.MaxRunningRequests,
            MaxContextTokens = profile.MaxContextTokens,
        },
        SimulatedTokenizer.Instance, static () => SimulatedWordDecoder.Instance, random ?? new Random())
{
    public const string BackendName = SimulatedStepRunner.BackendName;
    public const string KvLayout = SimulatedStepRunner.KvLayout;
}
