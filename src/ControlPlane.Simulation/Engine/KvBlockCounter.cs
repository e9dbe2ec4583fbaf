namespace ControlPlane.Simulation.Engine;

/// <summary>A simulated engine's KV blocks: how many are free. Blocks carry no data in simulation.</summary>
public sealed class KvBlockCounter(int total)
{
    public int Total { get; } = total;
    public int Free { get; private set; } = total;
    public int Used => Total - Free;

    public bool TryTake(int blocks)
    {
        if (blocks > Free)
            return false;
        Free -= blocks;
        return true;
    }

    public void Release(int blocks)
    {
        if (blocks < 0 || Free + blocks > Total)
            throw new InvalidOperationException($"releasing {blocks} blocks would leave {Free + blocks} free of {Total}");
        Free += blocks;
    }
}
