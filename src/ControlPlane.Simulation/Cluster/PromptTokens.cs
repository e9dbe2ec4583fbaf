using ControlPlane.Simulation.Tokenization;

namespace ControlPlane.Simulation.Cluster;

/// <summary>
/// Makes a simulated request's prompt tokens: a block named in the trace gives the same tokens wherever it
/// appears, and everything else is unique to its request, so the engines' prefix cache hits exactly where the
/// trace shares prefixes.
/// </summary>
internal static class PromptTokens
{
    public static int[] For(int index, SimulatedRequest request, int traceBlockTokens)
    {
        var tokens = new int[request.InputTokens];
        var named = request.PrefixBlocks;
        for (var p = 0; p < tokens.Length; p++)
        {
            var block = p / traceBlockTokens;
            var key = named is not null && block < named.Count ? (ulong)(uint)named[block] : (1UL << 40) + (ulong)index;
            tokens[p] = Token(key, p);
        }
        return tokens;
    }

    private static int Token(ulong key, int position)
    {
        var z = key * 0x9E3779B97F4A7C15UL + (ulong)position;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return 1 + (int)(z % (ulong)(SimulatedTokenizer.Instance.VocabularySize - 1));
    }
}
