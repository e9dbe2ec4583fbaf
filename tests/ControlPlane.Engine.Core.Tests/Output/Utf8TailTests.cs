using System.Text;
using ControlPlane.Engine.Core.Output;
using ControlPlane.Requests;
using ControlPlane.Tokenization;

namespace ControlPlane.Engine.Core.Tests.Output;

/// <summary>A completion that ends inside a multi-byte character: its last bytes come out as U+FFFD, as a whole decode gives.</summary>
public class Utf8TailTests
{
    /// <summary>Each token one byte, decoded as UTF-8 (a truncated sequence becomes U+FFFD), as a byte-level BPE decodes.</summary>
    private sealed class ByteTokenizer : ITokenizer
    {
        public int VocabularySize => 257;
        public IReadOnlyList<int> EndOfSequenceTokenIds { get; } = [256];
        public IReadOnlyList<int> Encode(string text) => [.. Encoding.UTF8.GetBytes(text).Select(b => (int)b)];
        public string Decode(IReadOnlyList<int> tokenIds) => Encoding.UTF8.GetString([.. tokenIds.Where(t => t < 256).Select(t => (byte)t)]);
    }

    [Theory]
    [InlineData("ab€", 4)]    // € is E2 82 AC: ends after E2 82
    [InlineData("é", 1)]      // C3 A9: ends after C3
    [InlineData("x🙂", 3)]    // F0 9F 99 82: ends after F0 9F
    [InlineData("plain", 5)]  // no tail
    public void Flush_AtTheEnd_EmitsWhatAWholeDecodeGives(string text, int tokens)
    {
        var tokenizer = new ByteTokenizer();
        var ids = tokenizer.Encode(text).Take(tokens).ToList();
        var decoder = new IncrementalDetokenizer(tokenizer);
        var streamed = new StringBuilder();
        foreach (var id in ids)
            streamed.Append(decoder.Add(id));
        streamed.Append(decoder.Flush());
        Assert.Equal(tokenizer.Decode(ids), streamed.ToString());
        Assert.Equal("", decoder.Flush());
    }

    [Fact]
    public void Apply_LengthLimitInsideACharacter_EndsWithReplacementCharacter()
    {
        var tokenizer = new ByteTokenizer();
        var decoder = new IncrementalDetokenizer(tokenizer);
        var sampling = new SamplingParameters { MaxTokens = 3 };
        var stops = new StopStringMatcher([]);
        var text = new StringBuilder();
        var ids = tokenizer.Encode("a€");
        FinishReason finish = FinishReason.None;
        for (var i = 0; i < 3; i++)
        {
            var id = ids[i];
            (var delta, finish) = OutputRules.Apply(sampling, id, i + 1, tokenizer.EndOfSequenceTokenIds, stops, () => decoder.Add(id), decoder.Flush);
            text.Append(delta);
        }
        Assert.Equal(FinishReason.Length, finish);
        Assert.Equal("a\uFFFD", text.ToString());
    }

    [Fact]
    public void Apply_EndOfSequenceAfterAnIncompleteCharacter_FlushesTheTail()
    {
        var tokenizer = new ByteTokenizer();
        var decoder = new IncrementalDetokenizer(tokenizer);
        var sampling = new SamplingParameters { MaxTokens = 10 };
        var stops = new StopStringMatcher([]);
        var (first, _) = OutputRules.Apply(sampling, 0xC3, 1, tokenizer.EndOfSequenceTokenIds, stops, () => decoder.Add(0xC3), decoder.Flush);
        var (last, finish) = OutputRules.Apply(sampling, 256, 2, tokenizer.EndOfSequenceTokenIds, stops, () => decoder.Add(256), decoder.Flush);
        Assert.Equal(FinishReason.Stop, finish);
        Assert.Equal("\uFFFD", first + last);
    }
}
