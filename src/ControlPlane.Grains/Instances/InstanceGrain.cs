using ControlPlane.Grains.Engines;
using ControlPlane.Grains.Placement;
using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Tokens;
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

    public Task<AdmitResult> AdmitAsync(RequestSpec request, ITokenSink sink, CancellationToken cancellationToken = default) =>
        Task.FromResult(_runner is null
            ? AdmitResult.Refused($"instance '{this.GetPrimaryKeyString()}' is not hosted on this silo")
            : _runner.Admit(request, sink) with { Silo = silo.SiloAddress.ToParsableString() });

    public Task<bool> AbortAsync(string requestId, CancellationToken cancellationToken = default) =>
        _runner is null ? Task.FromResult(false) : _runner.AbortAsync(requestId);

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

    public Task<bool> SetPowerCapAsync(double? watts, CancellationToken cancellationToken = default)
    {
        if (_runner?.Power is not { } power)
            return Task.FromResult(false);
        power.SetCap(watts);
        return Task.FromResult(true);
    }

    private EngineRunner Runner => _runner
        ?? throw new InvalidOperationException($"instance '{this.GetPrimaryKeyString()}' is not hosted on this silo");
}
