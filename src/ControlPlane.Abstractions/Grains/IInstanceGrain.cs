using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Tokens;

namespace ControlPlane.Grains;

/// <summary>One engine instance's live state and the orders it takes. Placed on the silo that runs the engine.</summary>
[Alias("ControlPlane.IInstanceGrain")]
public interface IInstanceGrain : IGrainWithStringKey
{
    [Alias("GetDescriptor")]
    Task<InstanceDescriptor> GetDescriptorAsync(CancellationToken cancellationToken = default);

    [Alias("GetLoad")]
    Task<InstanceLoad> GetLoadAsync(CancellationToken cancellationToken = default);

    /// <summary>Queues a request on the engine; its tokens go to <paramref name="sink"/> in per-step batches.</summary>
    [Alias("Admit")]
    Task<AdmitResult> AdmitAsync(RequestSpec request, ITokenSink sink, CancellationToken cancellationToken = default);

    /// <summary>Stops a request and frees its KV blocks; false if the instance does not hold it.</summary>
    [Alias("Abort")]
    Task<bool> AbortAsync(string requestId, CancellationToken cancellationToken = default);

    [Alias("SetRole")]
    Task SetRoleAsync(InstanceRole role, CancellationToken cancellationToken = default);

    /// <summary>Takes no new requests from now on; running ones finish (or are migrated away once migration lands).</summary>
    [Alias("Drain")]
    Task DrainAsync(CancellationToken cancellationToken = default);

    /// <summary>Takes new requests again after a drain that was called off; a failed instance stays failed.</summary>
    [Alias("Resume")]
    Task ResumeAsync(CancellationToken cancellationToken = default);

    /// <summary>Sets the GPU's power cap in watts, or lifts it (null); false when the instance has no actuator.</summary>
    [Alias("SetPowerCap")]
    Task<bool> SetPowerCapAsync(double? watts, CancellationToken cancellationToken = default);
}
