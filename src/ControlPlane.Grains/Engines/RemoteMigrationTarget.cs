using ControlPlane.Grains.Transfer;
using ControlPlane.Requests;
using ControlPlane.Tokens;
using ControlPlane.Transfer;

namespace ControlPlane.Grains.Engines;

/// <summary>
/// A destination engine on another worker: orders go to its instance grain, parts over one connection to its
/// worker's KV endpoint, each answered once the destination's engine has taken it in. Parts whose blocks are on this
/// worker's GPU go as device handles while the destination can open them (a worker of this host), else as bytes.
/// </summary>
public sealed class RemoteMigrationTarget(IInstanceGrain destination, string instanceId, bool devicePath = true) : IMigrationTarget
{
    private KvStreamSender? _sender;
    private MigrationTicket? _ticket;

    public string InstanceId { get; } = instanceId;

    public string Silo => _ticket?.Silo ?? "";

    public bool DeviceParts => devicePath && _sender?.DevicePath != KvDevicePath.No;

    /// <summary>Its sender copies device parts to pooled host buffers when they cannot go as handles.</summary>
    public bool CopiesDeviceParts => true;

    public async Task BeginAsync(RequestSpec request, ITokenSink sink, int blocks, CancellationToken cancellationToken)
    {
        var ticket = await destination.BeginMigrationInAsync(request, sink, blocks, cancellationToken);
        if (ticket.Refusal is { } refusal)
            throw new MigrationRefusedException(refusal);
        _ticket = ticket;
        // Device handles only to a worker of this host: another host's would refuse them, a round trip per migration for nothing.
        _sender = await KvStreamSender.ConnectAsync(ticket.Host, ticket.Port, cancellationToken, devicePath && KvHost.MayBeThisHost(ticket.HostId));
    }

    public async Task SendAsync(KvPart part, CancellationToken cancellationToken)
    {
        var sender = _sender ?? throw new InvalidOperationException("the migration has not begun");
        if (await sender.SendOneAsync(part, cancellationToken) is { } refusal)
            throw new MigrationRefusedException(refusal);
    }

    public async Task<string> CommitAsync(KvPart last, CancellationToken cancellationToken)
    {
        await SendAsync(last, cancellationToken);
        return _ticket!.Silo;
    }

    public Task<bool> HoldsAsync(string requestId, CancellationToken cancellationToken) => destination.HoldsAsync(requestId, cancellationToken);

    public Task CancelAsync(string requestId) => destination.CancelMigrationInAsync(requestId);

    public Task AbortAsync(string requestId) => destination.AbortAsync(requestId);

    public async ValueTask DisposeAsync()
    {
        if (_sender is not null)
            await _sender.DisposeAsync();
    }
}
