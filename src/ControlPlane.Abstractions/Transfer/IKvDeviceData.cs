namespace ControlPlane.Transfer;

/// <summary>
/// KV block data kept on the device (a GPU tensor): for a peer engine in the same process the blocks move device to
/// device, never through host memory; for one in another process of the same host, by a handle to this memory
/// (<see cref="Share"/>); elsewhere as host bytes (<see cref="ToArray"/>). Owned by whoever holds the part; the
/// importer, or the sender once the part was answered, disposes it.
/// </summary>
public interface IKvDeviceData : IDisposable
{
    /// <summary>Where the data lives, e.g. <c>cuda:0</c> or <c>cpu</c>: an importer on another device refuses it.</summary>
    string Device { get; }

    long Bytes { get; }

    /// <summary>Copies the data to host memory, in the host payload's layout: for a peer in another process, off the engine's loop.</summary>
    byte[] ToArray();

    /// <summary>
    /// Copies the data into <paramref name="destination"/> (<see cref="Bytes"/> long), as <see cref="ToArray"/> lays it
    /// out: a sender's pooled buffer, so that no fresh memory is touched for each part. Off the engine's loop.
    /// </summary>
    void CopyTo(Span<byte> destination) => ToArray().CopyTo(destination);

    /// <summary>
    /// A handle by which another process of this host copies the data device to device, once the data is written
    /// (this waits for the copy that made it, not for later work on the device); null when the data cannot be shared
    /// (host memory, no driver support). The data must stay alive, unchanged, until the importer has answered.
    /// Off the engine's loop.
    /// </summary>
    KvDeviceHandle? Share() => null;
}
