using ControlPlane.Requests;
using ControlPlane.Transfer;

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

    /// <summary>
    /// Copies a range of a running request's computed KV blocks to host memory, between steps, and hands the
    /// part over: writing it anywhere happens outside the step loop. The part that ends at the request's last
    /// computed block carries its resume state.
    /// </summary>
    KvPart ExportKv(string requestId, KvBlockRange range);

    /// <summary>
    /// Takes in a part made by <see cref="ExportKv(string, KvBlockRange)"/> or <see cref="ExportStable"/> on a peer, parts in order (it owns and frees
    /// their device data). When the part completes the
    /// request, it joins the running batch and continues exactly where the peer stopped.
    /// </summary>
    void ImportKv(RequestSpec request, KvPart part);

    /// <summary>
    /// The blocks of a part another worker process of this host left on its GPU (<see cref="KvPart.DeviceHandle"/>),
    /// copied device to device into this engine's device memory for <see cref="ImportKv"/>. Any thread, off the loop.
    /// Throws <see cref="KvDeviceUnusableException"/> when this engine cannot reach them: the sender then sends bytes.
    /// </summary>
    IKvDeviceData OpenDeviceHandle(KvDeviceHandle handle, int blocks) =>
        throw new KvDeviceUnusableException("this engine takes no device handles");

    /// <summary>Where a request stands for a migration; null when the engine does not hold it.</summary>
    MigrationProbe? Probe(string requestId);

    /// <summary>
    /// A staged migration part: up to <paramref name="maxBlocks"/> full computed blocks from <paramref name="first"/> on,
    /// taken while the request keeps running (full blocks never change). No resume state. Null when there is none.
    /// </summary>
    /// <remarks><paramref name="onDevice"/>: keep the blocks on the device when the backend can (for a peer engine in this process, or one in another process of this host).</remarks>
    KvPart? ExportStable(string requestId, int first, int maxBlocks, bool onDevice = false);

    /// <summary><see cref="ExportKv(string, KvBlockRange)"/>, with the blocks kept on the device for a peer in this process when the backend can.</summary>
    KvPart ExportKv(string requestId, KvBlockRange range, bool onDevice);

    /// <summary>Holds a running request out of the batch with its blocks: its last blocks stop changing and can be exported with its resume state.</summary>
    bool Suspend(string requestId);

    /// <summary>Puts a suspended request back in the batch, where it stopped (a migration failed before its commit).</summary>
    bool Unsuspend(string requestId);

    EngineSnapshot Snapshot();
}
