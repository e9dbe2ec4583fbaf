using ControlPlane.Requests;
using ControlPlane.Tokens;
using ControlPlane.Transfer;

namespace ControlPlane.Grains.Engines;

/// <summary>A destination engine in this process: parts go from one loop to the other as host memory, no socket, no grain call.</summary>
public sealed class LocalMigrationTarget(EngineRunner destination, string silo) : IMigrationTarget
{
    public string InstanceId => destination.Descriptor.InstanceId;

    public string Silo => silo;

    public bool DeviceParts => true;

    public async Task BeginAsync(RequestSpec request, ITokenSink sink, int blocks, CancellationToken cancellationToken)
    {
        if (await destination.BeginIncomingAsync(request, sink, blocks) is { } refusal)
            throw new MigrationRefusedException(refusal);
    }

    public Task SendAsync(KvPart part, CancellationToken cancellationToken) => destination.ImportAsync(part).WaitAsync(cancellationToken);

    public async Task<string> CommitAsync(KvPart last, CancellationToken cancellationToken)
    {
        await destination.ImportAsync(last).WaitAsync(cancellationToken);
        return silo;
    }

    public Task<bool> HoldsAsync(string requestId, CancellationToken cancellationToken) => destination.HoldsAsync(requestId);

    public Task CancelAsync(string requestId) => destination.CancelIncomingAsync(requestId);

    public Task AbortAsync(string requestId) => destination.AbortAsync(requestId);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
