using System.Text.Json;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Loading;

/// <summary>
/// Writes a small Llama model with random weights in the Hugging Face folder format (config.json,
/// model.safetensors, a byte-level tokenizer.json over the 256 bytes). Its text is noise, but every part
/// of the engine runs on it for real: it is the CPU model of the embedded default, where no weights can
/// be downloaded.
/// </summary>
public static class RandomModelFolder
{
    public const int EosTokenId = 256;
    private static readonly string[] Architecture = ["LlamaForCausalLM"];

    public static string Ensure(string folder, int hidden = 128, int layers = 4, int heads = 4, int kvHeads = 2, int seed = 1)
    {
        if (File.Exists(Path.Combine(folder, "model.safetensors")) && File.Exists(Path.Combine(folder, "tokenizer.json")))
            return folder;
        Directory.CreateDirectory(folder);
        var vocabulary = EosTokenId + 1;
        var intermediate = hidden * 8 / 3;
        File.WriteAllText(Path.Combine(folder, "config.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["architectures"] = Architecture,
            ["hidden_size"] = hidden, ["intermediate_size"] = intermediate, ["num_hidden_layers"] = layers,
            ["num_attention_heads"] = heads, ["num_key_value_heads"] = kvHeads, ["vocab_size"] = vocabulary,
            ["rms_norm_eps"] = 1e-5, ["rope_theta"] = 500000.0, ["max_position_embeddings"] = 4096,
            ["torch_dtype"] = "float32", ["eos_token_id"] = EosTokenId, ["bos_token_id"] = EosTokenId, ["tie_word_embeddings"] = true,
        }));
        using (var scope = NewDisposeScope())
        {
            manual_seed(seed);
            var head = hidden / heads;
            var tensors = new Dictionary<string, Tensor>
            {
                ["model.embed_tokens.weight"] = randn(vocabulary, hidden) * 0.5f,
                ["model.norm.weight"] = ones(hidden),
            };
            for (var i = 0; i < layers; i++)
            {
                var p = $"model.layers.{i}.";
                tensors[p + "self_attn.q_proj.weight"] = randn(heads * head, hidden) * 0.1f;
                tensors[p + "self_attn.k_proj.weight"] = randn(kvHeads * head, hidden) * 0.1f;
                tensors[p + "self_attn.v_proj.weight"] = randn(kvHeads * head, hidden) * 0.1f;
                tensors[p + "self_attn.o_proj.weight"] = randn(hidden, heads * head) * 0.1f;
                tensors[p + "mlp.gate_proj.weight"] = randn(intermediate, hidden) * 0.1f;
                tensors[p + "mlp.up_proj.weight"] = randn(intermediate, hidden) * 0.1f;
                tensors[p + "mlp.down_proj.weight"] = randn(hidden, intermediate) * 0.1f;
                tensors[p + "input_layernorm.weight"] = ones(hidden);
                tensors[p + "post_attention_layernorm.weight"] = ones(hidden);
            }
            SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), tensors);
        }
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), JsonSerializer.Serialize(new
        {
            version = "1.0",
            added_tokens = new[] { new { id = EosTokenId, content = "<|end_of_text|>", special = true } },
            pre_tokenizer = new { type = "ByteLevel" },
            model = new { type = "BPE", vocab = ByteVocabulary(), merges = Array.Empty<string>() },
        }));
        return folder;
    }

    /// <summary>GPT-2's printable stand-ins for the 256 bytes, each its own token (id = byte value).</summary>
    public static Dictionary<string, int> ByteVocabulary()
    {
        var bytes = Enumerable.Range(33, 94).Concat(Enumerable.Range(161, 12)).Concat(Enumerable.Range(174, 82)).ToList();
        var chars = bytes.ToList();
        var n = 0;
        for (var b = 0; b < 256; b++)
        {
            if (!bytes.Contains(b))
            {
                bytes.Add(b);
                chars.Add(256 + n++);
            }
        }
        var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < bytes.Count; i++)
            vocabulary[char.ConvertFromUtf32(chars[i])] = bytes[i];
        return vocabulary;
    }
}
