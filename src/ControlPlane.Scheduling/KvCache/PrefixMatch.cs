namespace ControlPlane.Scheduling.KvCache;

/// <summary>
/// A prompt's cached prefix on each instance that holds one (<see cref="KvPrefixIndex.Match"/>): the leading blocks it
/// holds, and how many of them are only in host memory. Instances not named hold none of it.
/// </summary>
public sealed class PrefixMatch(int promptBlocks)
{
    private readonly Dictionary<string, (int Blocks, int HostBlocks)> _byInstance = new(StringComparer.Ordinal);

    /// <summary>Full blocks in the prompt (what a hit is measured against).</summary>
    public int PromptBlocks { get; } = promptBlocks;

    /// <summary>The longest prefix any instance holds, in blocks, and one instance that holds it.</summary>
    public int Longest { get; private set; }
    public string? LongestHolder { get; private set; }

    public IReadOnlyDictionary<string, (int Blocks, int HostBlocks)> ByInstance => _byInstance;

    /// <summary>The leading blocks <paramref name="instance"/> holds and how many of them are in host memory only.</summary>
    public (int Blocks, int HostBlocks) For(string instance) => _byInstance.GetValueOrDefault(instance);

    internal void Add(string instance, int blocks, int hostBlocks)
    {
        _byInstance[instance] = (blocks, hostBlocks);
        if (blocks > Longest || (blocks == Longest && LongestHolder is not null && hostBlocks < _byInstance[LongestHolder].HostBlocks))
        {
            Longest = blocks;
            LongestHolder = instance;
        }
    }
}
