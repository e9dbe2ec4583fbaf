using ControlPlane.Grains.Engines;
using ControlPlane.Grains.Placement;
using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Scheduling.Migration;
using ControlPlane.Tokens;
using ControlPlane.Transfer;
using Orleans.Concurrency;

namespace ControlPlane.Grains.Instances;

/// <summary>
/// The control-path face of one engine: it takes the scheduler's orders and applies them to the engine
/// runner on its silo. Holds no state of its own beyond the runner's; the engine is the truth. Reentrant:
/// an abort waits for the engine's next step boundary, and admissions must not queue behind a burst of them
/// (every call only hands an order to the runner, which is safe from any thread).
/// </summary>
[Reentrant, InstancePlacement]
public sealed class InstanceGrain(EngineHost host, ILocalSiloDetails silo) : Grain, IInstanceGrain
{
    private EngineRunner? _runner;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        host.TryGet(this.GetPrimaryKeyString(), out _runner);
        return Task.CompletedTask;
    }

    public Task<InstanceDescriptor> GetDescriptorAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(Runner.Descriptor);

    public Task<InstanceLoad> GetLoadAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(Runner.Load);

    public Task<ModelCard?> GetModelCardAsync(CancellationToken cancellationToken = default) =>
        Task.FromResult(Runner.Card);

    public Task<AdmitResult> AdmitAsync(RequestSpec request, ITokenSink sink, CancellationToken cancellationToken = default) =>
        Task.FromResult(_runner is null
            ? AdmitResult.Refused($"instance '{this.GetPrimaryKeyString()}' is not hosted on this silo")
            : _runner.Admit(request, sink) with { Silo = silo.SiloAddress.ToParsableString() });

    /// <summary>Stops the request here, or, where it migrated from here lately, where it went.</summary>
    public async Task<bool> AbortAsync(string requestId, CancellationToken cancellationToken = default)
    {
        if (_runner is null)
            return false;
        if (await _runner.AbortAsync(requestId))
            return true;
        return _runner.MovedTo(requestId) is { } moved && await GrainFactory.GetGrain<IInstanceGrain>(moved).AbortAsync(requestId, cancellationToken);
    }

    public async Task<MigrationResult> MigrateOutAsync(string destination, string reason, string? requestId = null, CancellationToken cancellationToken = default)
    {
        if (!Enum.TryParse<MigrationReason>(reason, ignoreCase: true, out var why))
            throw new ArgumentException($"unknown migration reason '{reason}'", nameof(reason));
        if (destination == this.GetPrimaryKeyString())
            throw new ArgumentException("a request cannot migrate to the instance it runs on", nameof(destination));
        await using var target = host.TargetFor(destination);
        return await Runner.MigrateOutAsync(target, why, requestId, cancellationToken);
    }

    public async Task<MigrationTicket> BeginMigrationInAsync(RequestSpec request, ITokenSink sink, int blocks, CancellationToken cancellationToken = default)
    {
        if (_runner is null)
            return MigrationTicket.Refused($"instance '{this.GetPrimaryKeyString()}' is not hosted on this silo");
        if (host.KvEndpoint is not { } endpoint)
            return MigrationTicket.Refused($"the worker of instance '{this.GetPrimaryKeyString()}' serves no KV endpoint");
        if (await _runner.BeginIncomingAsync(request, sink, blocks) is { } refusal)
            return MigrationTicket.Refused(refusal);
        return new MigrationTicket { Host = endpoint.Host, Port = endpoint.Port, Silo = silo.SiloAddress.ToParsableString(), HostId = KvHost.BootId };
    }

    public Task<bool> CancelMigrationInAsync(string requestId, CancellationToken cancellationToken = default) =>
        _runner is null ? Task.FromResult(false) : _runner.CancelIncomingAsync(requestId);

    public Task<bool> HoldsAsync(string requestId, CancellationToken cancellationToken = default) =>
        _runner is null ? Task.FromResult(false) : _runner.HoldsAsync(requestId);

    public async Task<RequestLocation> LocateAsync(string requestId, CancellationToken cancellationToken = default) =>
        (_runner is null ? RequestLocation.Unknown : await _runner.LocateAsync(requestId)) with { Silo = silo.SiloAddress.ToParsableString() };

    public Task SetRoleAsync(InstanceRole role, CancellationToken cancellationToken = default)
    {
        Runner.SetRole(role);
        return Task.CompletedTask;
    }

    public Task DrainAsync(CancellationToken cancellationToken = default)
    {
        Runner.Drain();
        return Task.CompletedTask;
    }

    public Task ResumeAsync(CancellationToken cancellationToken = default)
    {
        Runner.Resume();
        return Task.CompletedTask;
    }

    public Task<bool> SetPowerCapAsync(string domain, double? watts, CancellationToken cancellationToken = default)
    {
        if (_runner?.Power is not { } power)
            return Task.FromResult(false);
        power.SetCap(_runner.PowerVotes.Set(domain, watts));
        return Task.FromResult(true);
    }

    public async Task<int> SendPrefixAsync(ControlPlane.KvCache.PrefixSendOrder order, CancellationToken cancellationToken = default)
    {
        Transfer.KvStreamSender? sender = null;
        // Device to device to a worker of this host (until it says it cannot open a handle), else as bytes.
        var devicePath = host.KvDevicePath && KvHost.MayBeThisHost(order.HostId);
        try
        {
            return await Runner.SendPrefixAsync(order.FetchId, order.TokenIds, order.FirstBlock, order.BlockCount, async part =>
            {
                try
                {
                    sender ??= await Transfer.KvStreamSender.ConnectAsync(order.Host, order.Port, cancellationToken, devicePath);
                }
                catch
                {
                    part.DeviceData?.Dispose();
                    throw;
                }
                if (await sender.SendOneAsync(part, cancellationToken) is { } refusal)
                    throw new Transfer.KvTransferException($"instance at {order.Host}:{order.Port} refused prefix part '{order.FetchId}': {refusal}");
            }, () => devicePath && sender?.DevicePath != Transfer.KvDevicePath.No);
        }
        finally
        {
            if (sender is not null)
                await sender.DisposeAsync();
        }
    }

    private EngineRunner Runner => _runner
        ?? throw new InvalidOperationException($"instance '{this.GetPrimaryKeyString()}' is not hosted on this silo");
}
