namespace ControlPlane.Transfer;

/// <summary>
/// KV block data kept on the device (a GPU tensor) for a peer engine in the same process: the blocks move device to
/// device, never through host memory. Owned by whoever holds the part; the importer disposes it once written.
/// </summary>
public interface IKvDeviceData : IDisposable
{
    /// <summary>Where the data lives, e.g. <c>cuda:0</c> or <c>cpu</c>: an importer on another device refuses it.</summary>
    string Device { get; }

    long Bytes { get; }

    /// <summary>Copies the data to host memory, in the host payload's layout: for a peer in another process, off the engine's loop.</summary>
    byte[] ToArray();
}
