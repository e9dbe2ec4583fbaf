using ControlPlane.Requests;

namespace ControlPlane.Engines;

/// <summary>
/// The only thing the control plane knows about an engine. One driver calls it from one loop at a time
/// (the engine need not be thread-safe): add requests, run steps, abort, move KV blocks, read a snapshot.
/// </summary>
public interface IEngine : IDisposable
{
    EngineDescriptor Descriptor { get; }

    /// <summary>True while any request is waiting or running.</summary>
    bool HasWork { get; }

    /// <summary>Queues a request. Throws <see cref="EngineRejectedException"/> when it can never run here.</summary>
    void Add(RequestSpec request);

    /// <summary>Runs one batch step; returns the tokens it produced for every request in the batch.</summary>
    ValueTask<EngineStepResult> StepAsync(CancellationToken cancellationToken);

    /// <summary>Stops a request and frees all it holds. False when the engine does not know it.</summary>
    bool Abort(string requestId);

    /// <summary>Writes a range of a running request's KV blocks, with a header, to <paramref name="destination"/>.</summary>
    void ExportKv(string requestId, KvBlockRange range, Stream destination);

    /// <summary>
    /// Reads blocks written by <see cref="ExportKv"/> on a peer. When the header says the import is complete,
    /// the request joins the running batch and continues decoding where the peer stopped.
    /// </summary>
    void ImportKv(RequestSpec request, Stream source);

    EngineSnapshot Snapshot();
}
