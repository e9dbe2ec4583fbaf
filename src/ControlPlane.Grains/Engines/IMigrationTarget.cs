using ControlPlane.Requests;
using ControlPlane.Tokens;
using ControlPlane.Transfer;

namespace ControlPlane.Grains.Engines;

/// <summary>
/// Where a migrating request goes, as its source sees it: another engine in this process (parts handed over in
/// memory) or on another worker (parts over the KV data path, orders as grain calls). Every call throws
/// <see cref="MigrationRefusedException"/> when the destination says no, and anything else when it cannot be reached.
/// </summary>
public interface IMigrationTarget : IAsyncDisposable
{
    string InstanceId { get; }

    /// <summary>
    /// Whether parts for the destination keep their blocks on the device: it runs in this process (the blocks move
    /// device to device in memory), or on a worker whose KV connection may take a device handle (this host, a GPU it
    /// reaches; until the receiver says otherwise). Otherwise parts go to host memory before they are sent.
    /// </summary>
    bool DeviceParts { get; }

    /// <summary>
    /// Whether <see cref="SendAsync"/> takes parts whose blocks are on the device even when <see cref="DeviceParts"/> is
    /// false, copying them to host memory itself (into buffers it reuses); otherwise the source copies them first.
    /// </summary>
    bool CopiesDeviceParts => DeviceParts;

    /// <summary>The destination's silo once <see cref="BeginAsync"/> has answered (empty while not known).</summary>
    string Silo => "";

    /// <summary>Asks the destination to expect the request, which holds <paramref name="blocks"/> KV blocks.</summary>
    Task BeginAsync(RequestSpec request, ITokenSink sink, int blocks, CancellationToken cancellationToken);

    /// <summary>A staged part (full blocks, no resume state): the destination imports it and answers.</summary>
    Task SendAsync(KvPart part, CancellationToken cancellationToken);

    /// <summary>The last part, with the resume state: once this returns, the request runs on the destination. Returns its silo.</summary>
    Task<string> CommitAsync(KvPart last, CancellationToken cancellationToken);

    /// <summary>After a commit whose answer was lost: whether the destination runs the request.</summary>
    Task<bool> HoldsAsync(string requestId, CancellationToken cancellationToken);

    /// <summary>Calls the migration off before its commit (best effort: the destination also drops stale imports itself).</summary>
    Task CancelAsync(string requestId);

    /// <summary>Stops the request on the destination after its commit (its client went away meanwhile).</summary>
    Task AbortAsync(string requestId);
}

/// <summary>The destination refused the request or one of its parts: the migration ends, the request stays at its source.</summary>
public sealed class MigrationRefusedException(string message) : Exception(message);
