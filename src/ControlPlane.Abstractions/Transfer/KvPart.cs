namespace ControlPlane.Transfer;

/// <summary>
/// One exported part of a request's KV blocks, already copied to host memory and owned by whoever holds it:
/// the engine's loop only makes it (or takes it in); the bytes travel outside the step loop.
/// </summary>
public sealed record KvPart(KvTransferHeader Header, ReadOnlyMemory<byte> Payload);
