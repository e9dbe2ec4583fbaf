namespace ControlPlane.Transfer;

/// <summary>
/// One exported part of a request's KV blocks, already copied to host memory and owned by whoever holds it:
/// the engine's loop only makes it (or takes it in); the bytes travel outside the step loop. A part for an engine in
/// the same process may instead hold its blocks on the device (<see cref="DeviceData"/>, with an empty payload).
/// </summary>
public sealed record KvPart(KvTransferHeader Header, ReadOnlyMemory<byte> Payload)
{
    /// <summary>The blocks on the device, for a peer in this process; null when they are in <see cref="Payload"/>.</summary>
    public IKvDeviceData? DeviceData { get; init; }
}
