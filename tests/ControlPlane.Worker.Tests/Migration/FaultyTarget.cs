using ControlPlane.Grains.Engines;
using ControlPlane.Requests;
using ControlPlane.Tokens;
using ControlPlane.Transfer;

namespace ControlPlane.Worker.Tests.Migration;

/// <summary>A real migration target with faults injected at chosen points; counts what went through.</summary>
internal sealed class FaultyTarget(IMigrationTarget inner) : IMigrationTarget
{
    public string InstanceId => inner.InstanceId;

    public string Silo => inner.Silo;

    public bool DeviceParts => inner.DeviceParts;

    public bool CopiesDeviceParts => inner.CopiesDeviceParts;

    /// <summary>Blocks asked of the destination instead of the request's own (a destination too full for it).</summary>
    public int? AskBlocks { get; init; }

    /// <summary>Runs before each staged part goes (its index): may wait, or throw as a broken connection would.</summary>
    public Func<int, Task>? BeforeStage { get; init; }

    /// <summary>Runs before the last part goes: may wait or throw.</summary>
    public Func<Task>? BeforeCommit { get; init; }

    /// <summary>Changes the last part on its way (a corrupted transfer).</summary>
    public Func<KvPart, KvPart>? MutateLast { get; init; }

    public int Stages { get; private set; }
    public int Cancels { get; private set; }

    public Task BeginAsync(RequestSpec request, ITokenSink sink, int blocks, CancellationToken cancellationToken) =>
        inner.BeginAsync(request, sink, AskBlocks ?? blocks, cancellationToken);

    /// <summary>When the first staged part went (a <see cref="System.Diagnostics.Stopwatch"/> timestamp), 0 before.</summary>
    public long FirstStageAt { get; private set; }

    public async Task SendAsync(KvPart part, CancellationToken cancellationToken)
    {
        if (Stages == 0)
            FirstStageAt = System.Diagnostics.Stopwatch.GetTimestamp();
        if (BeforeStage is not null)
            await BeforeStage(Stages);
        Stages++;
        await inner.SendAsync(part, cancellationToken);
    }

    public async Task<string> CommitAsync(KvPart last, CancellationToken cancellationToken)
    {
        if (BeforeCommit is not null)
            await BeforeCommit();
        return await inner.CommitAsync(MutateLast?.Invoke(last) ?? last, cancellationToken);
    }

    public Task<bool> HoldsAsync(string requestId, CancellationToken cancellationToken) => inner.HoldsAsync(requestId, cancellationToken);

    public Task CancelAsync(string requestId)
    {
        Cancels++;
        return inner.CancelAsync(requestId);
    }

    public Task AbortAsync(string requestId) => inner.AbortAsync(requestId);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
