using System.Text.Json;
using ControlPlane.LoadGen.Prompts;
using ControlPlane.LoadGen.Traces;
using ControlPlane.Tokenization;

namespace ControlPlane.LoadGen.Tests.Prompts;

public class HuggingFaceTokenizerPromptTests
{
    /// <summary>A byte-level BPE tokenizer.json whose merges make " the", " of", ... single tokens, as real ones do.</summary>
    private static string Folder()
    {
        var folder = Directory.CreateTempSubdirectory("hf-tokenizer-").FullName;
        var vocab = ControlPlane.Models.Folders.RandomModelFolder.ByteVocabulary();
        var merges = new List<string>();
        foreach (var word in "the of and to in is was for on that with as by at from his her an are it be this which or had not but were they have one all".Split(' '))
        {
            var current = "Ġ";
            foreach (var c in word)
            {
                var next = current + c;
                if (!vocab.ContainsKey(next))
                {
                    merges.Add($"{current} {c}");
                    vocab[next] = vocab.Count + 1;
                }
                current = next;
            }
        }
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), JsonSerializer.Serialize(new
        {
            model = new { type = "BPE", vocab, merges },
            added_tokens = Array.Empty<object>(),
        }));
        return folder;
    }

    [Fact]
    public void Build_WithAHuggingFaceTokenizer_HitsTheTargetLengthInItsTokens()
    {
        var tokenizer = HuggingFaceTokenizer.Load(Folder(), []);
        Assert.Single(tokenizer.Encode(" the"));
        var builder = new PromptBuilder(tokenizer);
        foreach (var length in new[] { 1, 17, 512, 1500 })
        {
            var prompt = builder.Build(new TraceRequest(0, length, 1), length);
            Assert.InRange(tokenizer.Encode(prompt).Count, length - 1, length + 1);
        }
    }

    [Fact]
    public void Build_WithTheEmbeddedTinyModelsByteTokenizer_HitsTheTargetLength()
    {
        // The tokenizer of `make run`'s tiny-llama-cpu: bytes only, no merges, so no plain word is one token.
        var folder = ControlPlane.Models.Folders.RandomModelFolder.Ensure(Directory.CreateTempSubdirectory("tiny-tokenizer-").FullName);
        var tokenizer = HuggingFaceTokenizer.Load(folder, []);
        var builder = new PromptBuilder(tokenizer);
        foreach (var length in new[] { 1, 17, 512 })
            Assert.Equal(length, tokenizer.Encode(builder.Build(new TraceRequest(0, length, 1), length)).Count);
    }
}
