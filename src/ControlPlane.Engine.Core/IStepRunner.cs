using ControlPlane.Engine.Core.Scheduling;
using ControlPlane.Transfer;

namespace ControlPlane.Engine.Core;

/// <summary>
/// What a backend implements: run a planned step (the TorchSharp runner on the device; the simulated runner
/// from its performance profile) and move the bytes of KV blocks in and out. It never decides what runs.
/// </summary>
public interface IStepRunner : IDisposable
{
    /// <summary>The backend's name: <c>simulated</c>, <c>torchsharp</c>.</summary>
    string Backend { get; }

    /// <summary>How the blocks' bytes are laid out; an import checks both ends agree.</summary>
    KvDataLayout KvLayout { get; }

    /// <summary>Computes the plan; returns one token per chunk that samples (-1 for the others) and the step's duration.</summary>
    StepRun Run(StepPlan plan);

    /// <summary>
    /// Waits, after a step that lasts <paramref name="duration"/> of which <paramref name="computed"/> has
    /// passed already, until the step is over; a real backend returns at once. <paramref name="idle"/>: no work is left.
    /// </summary>
    ValueTask PaceAsync(TimeSpan duration, TimeSpan computed, bool idle, CancellationToken cancellationToken);

    /// <summary>Copies the blocks' keys and values to host memory, in the order given.</summary>
    byte[] ReadBlocks(IReadOnlyList<int> blocks);

    /// <summary>Writes keys and values read by a peer's <see cref="ReadBlocks"/> into these blocks.</summary>
    void WriteBlocks(IReadOnlyList<int> blocks, ReadOnlySpan<byte> data);

    /// <summary>
    /// Copies the blocks into new device memory, in <see cref="ReadBlocks"/>'s order, for a peer engine in this process or,
    /// by a handle, in another process of this host (device to device, no host copy). Null when the backend has no device
    /// data to hand over.
    /// </summary>
    IKvDeviceData? ReadBlocksOnDevice(IReadOnlyList<int> blocks) => null;

    /// <summary>
    /// Copies blocks another process of this host left on its device (a handle from its <see cref="IKvDeviceData.Share"/>)
    /// into new device memory here, for <see cref="WriteBlocksFromDevice"/>; any thread. Throws
    /// <see cref="KvDeviceUnusableException"/> when this backend or process cannot reach them.
    /// </summary>
    IKvDeviceData OpenDeviceHandle(KvDeviceHandle handle, int blocks) =>
        throw new KvDeviceUnusableException($"the {Backend} backend takes no device handles");

    /// <summary>A host-memory store of <paramref name="blocks"/> whole blocks for the host tier; null: the tier keeps <see cref="ReadBlocks"/>' arrays.</summary>
    KvCache.IKvHostStore? CreateHostStore(int blocks) => null;

    /// <summary>Writes device data made by a peer's <see cref="ReadBlocksOnDevice"/>; false when it cannot (another device, another backend).</summary>
    bool WriteBlocksFromDevice(IReadOnlyList<int> blocks, IKvDeviceData data) => false;
}
