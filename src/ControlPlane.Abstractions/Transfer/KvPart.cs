namespace ControlPlane.Transfer;

/// <summary>
/// One exported part of a request's KV blocks, already copied to host memory and owned by whoever holds it:
/// the engine's loop only makes it (or takes it in); the bytes travel outside the step loop. A part may instead hold
/// its blocks on the device (<see cref="DeviceData"/>, with an empty payload), and a part that came from another
/// process of this host may hold only a handle to them (<see cref="DeviceHandle"/>), which the importer opens.
/// </summary>
public sealed record KvPart(KvTransferHeader Header, ReadOnlyMemory<byte> Payload)
{
    /// <summary>The blocks on the device, for a peer in this process; null when they are in <see cref="Payload"/>.</summary>
    public IKvDeviceData? DeviceData { get; init; }

    /// <summary>The blocks on another process's GPU, to be copied device to device; null when they are here.</summary>
    public KvDeviceHandle? DeviceHandle { get; init; }
}
