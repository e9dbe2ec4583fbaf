namespace ControlPlane.Engine.Core.KvCache;

/// <summary>
/// Whole KV blocks kept in host memory by slot, for the host tier: the runner copies a block straight between its cache
/// and the store (pinned memory on CUDA), with no managed buffer between. A runner without one (the simulated runner)
/// leaves the tier to count blocks only.
/// </summary>
public interface IKvHostStore : IDisposable
{
    /// <summary>Copies the keys and values of <paramref name="block"/> into <paramref name="slot"/>.</summary>
    void Save(int block, int slot);

    /// <summary>Copies <paramref name="slot"/> back into <paramref name="block"/>.</summary>
    void Load(int slot, int block);
}
