using System.Text.Json;
using ControlPlane.Engine.Loading;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Tests;

/// <summary>
/// Writes a tiny Llama-style model in the Hugging Face folder format: config.json (GQA, Llama-3 RoPE
/// scaling), random fp32 weights as model.safetensors, and a byte-level BPE tokenizer.json.
/// </summary>
public static class TinyModel
{
    public const int Hidden = 64, Intermediate = 128, Layers = 2, Heads = 4, KvHeads = 2;
    public const int EosId = 256;

    public static string Create(string? folder = null, string architecture = "LlamaForCausalLM", bool tied = false, int seed = 7,
        Action<Dictionary<string, Tensor>>? edit = null)
    {
        folder ??= Path.Combine(Path.GetTempPath(), $"tiny-llama-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        var (vocab, merges) = Vocabulary();
        var size = vocab.Count + 1;
        var qwen = architecture == "Qwen2ForCausalLM";
        File.WriteAllText(Path.Combine(folder, "config.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["architectures"] = new[] { architecture },
            ["hidden_size"] = Hidden, ["intermediate_size"] = Intermediate, ["num_hidden_layers"] = Layers,
            ["num_attention_heads"] = Heads, ["num_key_value_heads"] = KvHeads, ["vocab_size"] = size,
            ["rms_norm_eps"] = 1e-5, ["rope_theta"] = 500000.0, ["max_position_embeddings"] = 2048,
            ["rope_scaling"] = new Dictionary<string, object> { ["rope_type"] = "llama3", ["factor"] = 8.0, ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0, ["original_max_position_embeddings"] = 256 },
            ["tie_word_embeddings"] = tied, ["torch_dtype"] = "float32", ["eos_token_id"] = EosId, ["bos_token_id"] = EosId,
        }));
        manual_seed(seed);
        var head = Hidden / Heads;
        var tensors = new Dictionary<string, Tensor>
        {
            ["model.embed_tokens.weight"] = randn(size, Hidden) * 0.5f,
            ["model.norm.weight"] = ones(Hidden) + randn(Hidden) * 0.1f,
        };
        if (!tied)
            tensors["lm_head.weight"] = randn(size, Hidden) * 0.2f;
        for (var i = 0; i < Layers; i++)
        {
            var p = $"model.layers.{i}.";
            tensors[p + "self_attn.q_proj.weight"] = randn(Heads * head, Hidden) * 0.2f;
            tensors[p + "self_attn.k_proj.weight"] = randn(KvHeads * head, Hidden) * 0.2f;
            tensors[p + "self_attn.v_proj.weight"] = randn(KvHeads * head, Hidden) * 0.2f;
            tensors[p + "self_attn.o_proj.weight"] = randn(Hidden, Heads * head) * 0.2f;
            if (qwen)
            {
                tensors[p + "self_attn.q_proj.bias"] = randn(Heads * head) * 0.1f;
                tensors[p + "self_attn.k_proj.bias"] = randn(KvHeads * head) * 0.1f;
                tensors[p + "self_attn.v_proj.bias"] = randn(KvHeads * head) * 0.1f;
            }
            tensors[p + "mlp.gate_proj.weight"] = randn(Intermediate, Hidden) * 0.2f;
            tensors[p + "mlp.up_proj.weight"] = randn(Intermediate, Hidden) * 0.2f;
            tensors[p + "mlp.down_proj.weight"] = randn(Hidden, Intermediate) * 0.2f;
            tensors[p + "input_layernorm.weight"] = ones(Hidden) + randn(Hidden) * 0.1f;
            tensors[p + "post_attention_layernorm.weight"] = ones(Hidden) + randn(Hidden) * 0.1f;
        }
        edit?.Invoke(tensors);
        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), tensors);
        foreach (var t in tensors.Values)
            t.Dispose();
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), JsonSerializer.Serialize(new
        {
            version = "1.0",
            added_tokens = new[] { new { id = EosId, content = "<|eos|>", special = true } },
            pre_tokenizer = new { type = "ByteLevel" },
            model = new { type = "BPE", vocab, merges },
        }));
        return folder;
    }

    /// <summary>GPT-2's byte-to-character table for the 256 bytes (the engine's own), no merges.</summary>
    private static (Dictionary<string, int> Vocab, string[] Merges) Vocabulary() => (RandomModelFolder.ByteVocabulary(), []);
}
