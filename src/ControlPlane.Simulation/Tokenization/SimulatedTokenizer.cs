using System.Text.RegularExpressions;
using ControlPlane.Tokenization;

namespace ControlPlane.Simulation.Tokenization;

/// <summary>
/// The simulated models' tokenizer: a word and every run of up to six characters of a longer word is one
/// token. Vocabulary words (with their leading space) round-trip; other pieces get stable ids above the
/// vocabulary and decode to nothing, since a simulated model never repeats its prompt.
/// </summary>
public sealed partial class SimulatedTokenizer : ITokenizer
{
    public const int EndOfSequenceTokenId = 0;
    private const int Size = 32_000;
    private static readonly string[] Words = BuildWords();
    private static readonly Dictionary<string, int> Ids = Words.Select((w, i) => (w, i)).Skip(1).ToDictionary(p => p.w, p => p.i);

    public static SimulatedTokenizer Instance { get; } = new();

    public int VocabularySize => Size;
    public IReadOnlyList<int> EndOfSequenceTokenIds { get; } = [EndOfSequenceTokenId];

    /// <summary>How many ids are real words (ids 1 to this minus one); a simulated model samples among them.</summary>
    public static int WordCount => Words.Length;

    public IReadOnlyList<int> Encode(string text)
    {
        var ids = new List<int>(text.Length / 4 + 1);
        foreach (Match m in Piece().Matches(text))
        {
            var piece = m.Value;
            ids.Add(Ids.TryGetValue(piece, out var id) ? id : Words.Length + (int)((uint)StableHash(piece) % (uint)(Size - Words.Length)));
        }
        return ids;
    }

    public string Decode(IReadOnlyList<int> tokenIds)
    {
        var text = new System.Text.StringBuilder();
        foreach (var id in tokenIds)
        {
            if (id > 0 && id < Words.Length)
                text.Append(Words[id]);
        }
        return text.ToString();
    }

    /// <summary>The text of one word token, or empty.</summary>
    public static string Word(int id) => id > 0 && id < Words.Length ? Words[id] : "";

    private static int StableHash(string s)
    {
        var h = 2166136261u;
        foreach (var c in s)
            h = (h ^ c) * 16777619u;
        return (int)h;
    }

    private static string[] BuildWords()
    {
        const string text = "the of and to in is was for on that with as by at from his her an are it be this which or " +
            "had not but were they have one all their has been more when there who would so if its into out up new " +
            "time can only other some two first may then about over these after most also made many years could " +
            "state world city where part would between under while during both known people each three through " +
            "model token cache block engine request batch queue power budget migrate decode prefill serve fleet " +
            "light river stone cloud garden story music signal circuit window harbor forest meadow lantern";
        return ["<eos>", .. text.Split(' ').Where(w => w.Length <= 6).Distinct().Select(w => " " + w), "."];
    }

    [GeneratedRegex(@"\s*[^\s]{1,6}|\s+$")]
    private static partial Regex Piece();
}
