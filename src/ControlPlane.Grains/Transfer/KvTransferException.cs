namespace ControlPlane.Grains.Transfer;

/// <summary>A KV transfer between workers failed: the receiver refused a part, or the stream broke.</summary>
public sealed class KvTransferException(string message) : Exception(message);
