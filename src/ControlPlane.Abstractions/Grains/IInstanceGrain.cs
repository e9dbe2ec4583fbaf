using ControlPlane.Instances;
using ControlPlane.Requests;
using ControlPlane.Tokens;
using ControlPlane.Transfer;

namespace ControlPlane.Grains;

/// <summary>One engine instance's live state and the orders it takes. Placed on the silo that runs the engine.</summary>
[Alias("ControlPlane.IInstanceGrain")]
public interface IInstanceGrain : IGrainWithStringKey
{
    [Alias("GetDescriptor")]
    Task<InstanceDescriptor> GetDescriptorAsync(CancellationToken cancellationToken = default);

    [Alias("GetLoad")]
    Task<InstanceLoad> GetLoadAsync(CancellationToken cancellationToken = default);

    /// <summary>What a gateway needs to serve the instance's model (tokenizer files, context, chat form); null where the host gave none.</summary>
    [Alias("GetModelCard")]
    Task<ModelCard?> GetModelCardAsync(CancellationToken cancellationToken = default);

    /// <summary>Queues a request on the engine; its tokens go to <paramref name="sink"/> in per-step batches.</summary>
    [Alias("Admit")]
    Task<AdmitResult> AdmitAsync(RequestSpec request, ITokenSink sink, CancellationToken cancellationToken = default);

    /// <summary>Stops a request and frees its KV blocks; false if the instance does not hold it.</summary>
    [Alias("Abort")]
    Task<bool> AbortAsync(string requestId, CancellationToken cancellationToken = default);

    [Alias("SetRole")]
    Task SetRoleAsync(InstanceRole role, CancellationToken cancellationToken = default);

    /// <summary>Takes no new requests from now on; running ones finish here or the scheduler migrates them away.</summary>
    [Alias("Drain")]
    Task DrainAsync(CancellationToken cancellationToken = default);

    /// <summary>Takes new requests again after a drain that was called off; a failed instance stays failed.</summary>
    [Alias("Resume")]
    Task ResumeAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Moves one running request (<paramref name="requestId"/>, or one this instance picks) to <paramref name="destination"/>
    /// while it decodes: staged copies, a short stop, a commit. Returns when it committed or went on here.
    /// </summary>
    [Alias("MigrateOut")]
    Task<MigrationResult> MigrateOutAsync(string destination, string reason, string? requestId = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// The destination's half: checks it can take a request of <paramref name="blocks"/> KV blocks, then expects its parts
    /// on this worker's KV endpoint; the part with its resume state commits it, and its tokens go to <paramref name="sink"/>.
    /// </summary>
    [Alias("BeginMigrationIn")]
    Task<MigrationTicket> BeginMigrationInAsync(RequestSpec request, ITokenSink sink, int blocks, CancellationToken cancellationToken = default);

    /// <summary>Calls off an incoming migration before its commit, freeing what it imported; false when none is pending.</summary>
    [Alias("CancelMigrationIn")]
    Task<bool> CancelMigrationInAsync(string requestId, CancellationToken cancellationToken = default);

    /// <summary>Whether the engine runs the request (a source asks after its commit's answer was lost).</summary>
    [Alias("Holds")]
    Task<bool> HoldsAsync(string requestId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Whether the instance runs the request and how far it has sent it, or where it moved it: a gateway asks when a
    /// stream has gone silent, to tell a request waiting its turn from one lost on the way.
    /// </summary>
    [Alias("Locate")]
    Task<RequestLocation> LocateAsync(string requestId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Streams the prefix blocks a peer asked for (those of them this instance holds, on the GPU or in host memory) to
    /// the peer's KV endpoint; returns how many it sent once the peer took them in.
    /// </summary>
    [Alias("SendPrefix")]
    Task<int> SendPrefixAsync(KvCache.PrefixSendOrder order, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sets <paramref name="domain"/>'s power cap on the GPU in watts, or lifts it (null); the GPU obeys the lowest cap its
    /// domains set. False when the instance has no actuator.
    /// </summary>
    [Alias("SetDomainPowerCap")]
    Task<bool> SetPowerCapAsync(string domain, double? watts, CancellationToken cancellationToken = default);
}
