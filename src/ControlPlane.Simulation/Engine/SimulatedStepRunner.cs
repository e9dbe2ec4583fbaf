using ControlPlane.Engine.Core;
using ControlPlane.Engine.Core.Scheduling;
using ControlPlane.Simulation.Performance;
using ControlPlane.Simulation.Power;

namespace ControlPlane.Simulation.Engine;

/// <summary>
/// Runs planned steps without a model: tokens from <see cref="SimulatedSampler"/>, durations from the
/// performance profile. Simulated blocks hold no keys or values, so a KV transfer moves no payload: the
/// header's token ids say what the blocks hold, and the engine core checks and accounts for real blocks.
/// </summary>
public sealed class SimulatedStepRunner(PerformanceProfile profile, TimeProvider time) : IStepRunner
{
    public const string BackendName = "simulated";
    public const string KvLayout = "simulated/none";
    private TimeSpan _lateness;
    private readonly StepLog? _stepLog = StepLog.Open();

    public string Backend => BackendName;

    /// <summary>The GPU's modelled power state (cap and energy), when the profile has a power model.</summary>
    public PowerMeter? Power { get; } = profile.Power is { } model ? new PowerMeter(model) : null;
    KvDataLayout IStepRunner.KvLayout { get; } = new(KvLayout, "none", 0);

    public StepRun Run(StepPlan plan)
    {
        var tokens = new int[plan.Chunks.Count];
        for (var i = 0; i < tokens.Length; i++)
            tokens[i] = plan.Chunks[i].Samples ? SimulatedSampler.Next(plan.Chunks[i]) : -1;
        // Blocks brought back from host memory are copied before the step computes (not overlapped: an upper bound).
        var copy = profile.HostCopyTime(plan.LoadedBlocks);
        if (Power is null)
        {
            var modelled = copy + profile.StepTime(plan.PrefillTokens, plan.DecodeSequences, plan.ContextTokens, plan.AttentionPairs);
            _stepLog?.Write(plan.Chunks, graph: false, modelled);
            return new StepRun(tokens, modelled);
        }
        var (prefillMs, otherMs) = profile.StepParts(plan.PrefillTokens, plan.DecodeSequences, plan.ContextTokens, plan.AttentionPairs);
        var before = Power.BusyJoules;
        var duration = copy + Power.Step(prefillMs, plan.PrefillTokens, otherMs, plan.DecodeSequences);
        _stepLog?.Write(plan.Chunks, graph: false, duration);
        return new StepRun(tokens, duration, Power.BusyJoules - before);
    }

    /// <summary>
    /// Waits out the step's modelled duration. Timers fire late (about a millisecond on Linux), so the lateness
    /// is carried into the next step's wait: over a run, steps last what the profile says.
    /// </summary>
    public async ValueTask PaceAsync(TimeSpan duration, TimeSpan computed, bool idle, CancellationToken cancellationToken)
    {
        // Repay at most half a step: after a long stall (a starved CPU), steps must not burst back to back.
        var repay = TimeSpan.FromTicks(Math.Min(_lateness.Ticks, duration.Ticks / 2));
        var wait = duration - computed - repay;
        if (wait > TimeSpan.Zero)
        {
            var sleepStart = time.GetTimestamp();
            await Task.Delay(wait, time, cancellationToken).ConfigureAwait(false);
            _lateness = _lateness - repay + (time.GetElapsedTime(sleepStart) - wait);
        }
        else
        {
            // This step repaid what its modelled time left over; computing longer than modelled adds no debt.
            _lateness -= TimeSpan.FromTicks(Math.Max(0, (repay + wait).Ticks));
        }
        if (idle)
            _lateness = TimeSpan.Zero; // an idle engine owes nothing
    }

    public byte[] ReadBlocks(IReadOnlyList<int> blocks) => [];

    public void WriteBlocks(IReadOnlyList<int> blocks, ReadOnlySpan<byte> data)
    {
    }

    public void Dispose()
    {
    }
}
