namespace ControlPlane.Transfer;

/// <summary>A range of a request's KV blocks, by position in its block table. <c>Count = -1</c> means "to the end".</summary>
public readonly record struct KvBlockRange(int First, int Count)
{
    public static KvBlockRange All => new(0, -1);
}
