using ControlPlane.Models.Folders;

namespace ControlPlane.Engine.Tests;

/// <summary>
/// A tiny Llama-style model in the Hugging Face folder format, written by the one random-model writer:
/// config.json (GQA, Llama-3 RoPE scaling), random fp32 weights as model.safetensors, a byte-level BPE tokenizer.json.
/// </summary>
public static class TinyModel
{
    public const int Hidden = 64, Intermediate = 128, Layers = 2, Heads = 4, KvHeads = 2;
    public const int EosId = RandomModelFolder.EosTokenId;

    public static string Create(string? folder = null, string architecture = "LlamaForCausalLM", bool tied = false, int seed = 7,
        Action<Dictionary<string, HostTensor>>? edit = null) =>
        RandomModelFolder.Write(folder ?? Path.Combine(Path.GetTempPath(), $"tiny-llama-{Guid.NewGuid():N}"), new RandomModelSpec
        {
            Hidden = Hidden, Intermediate = Intermediate, Layers = Layers, Heads = Heads, KvHeads = KvHeads,
            Architecture = architecture, TiedEmbeddings = tied, Llama3RopeScaling = true, MaxPositions = 2048, Seed = seed,
            EmbeddingScale = 0.5f, WeightScale = 0.2f, NormJitter = 0.1f, EndOfSequenceText = "<|eos|>",
        }, edit);
}
