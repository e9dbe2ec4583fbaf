using System.Text.Json;

namespace ControlPlane.Models.Folders;

/// <summary>
/// Writes a Llama-family model with random weights in the Hugging Face folder format (config.json,
/// model.safetensors, a byte-level tokenizer.json over the 256 bytes), without TorchSharp. Its text is noise,
/// but every part of the engine runs on it for real: it is the CPU model of the embedded default, where no
/// weights can be downloaded, and the tests' tiny model.
/// </summary>
public static class RandomModelFolder
{
    public const int EosTokenId = 256;

    /// <summary>Writes the embedded default's model unless the folder already holds one.</summary>
    public static string Ensure(string folder, RandomModelSpec? spec = null)
    {
        if (File.Exists(Path.Combine(folder, "model.safetensors")) && File.Exists(Path.Combine(folder, "tokenizer.json")))
            return folder;
        return Write(folder, spec ?? new RandomModelSpec());
    }

    /// <summary>Writes the folder; <paramref name="edit"/> may change the tensors before they are saved (to make broken folders).</summary>
    public static string Write(string folder, RandomModelSpec spec, Action<Dictionary<string, HostTensor>>? edit = null)
    {
        Directory.CreateDirectory(folder);
        var vocabulary = EosTokenId + 1;
        var intermediate = spec.Intermediate > 0 ? spec.Intermediate : spec.Hidden * 8 / 3;
        var config = new Dictionary<string, object>
        {
            ["architectures"] = new[] { spec.Architecture },
            ["hidden_size"] = spec.Hidden, ["intermediate_size"] = intermediate, ["num_hidden_layers"] = spec.Layers,
            ["num_attention_heads"] = spec.Heads, ["num_key_value_heads"] = spec.KvHeads, ["vocab_size"] = vocabulary,
            ["rms_norm_eps"] = 1e-5, ["rope_theta"] = 500000.0, ["max_position_embeddings"] = spec.MaxPositions,
            ["torch_dtype"] = "float32", ["eos_token_id"] = EosTokenId, ["bos_token_id"] = EosTokenId, ["tie_word_embeddings"] = spec.TiedEmbeddings,
        };
        if (spec.Llama3RopeScaling)
            config["rope_scaling"] = new Dictionary<string, object> { ["rope_type"] = "llama3", ["factor"] = 8.0, ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0, ["original_max_position_embeddings"] = 256 };
        File.WriteAllText(Path.Combine(folder, "config.json"), JsonSerializer.Serialize(config));
        var tensors = Weights(spec, vocabulary, intermediate);
        edit?.Invoke(tensors);
        SafetensorsWriter.Write(Path.Combine(folder, "model.safetensors"), tensors);
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), JsonSerializer.Serialize(new
        {
            version = "1.0",
            added_tokens = new[] { new { id = EosTokenId, content = spec.EndOfSequenceText, special = true } },
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

    private static Dictionary<string, HostTensor> Weights(RandomModelSpec spec, int vocabulary, int intermediate)
    {
        var random = new Random(spec.Seed);
        int h = spec.Hidden, head = spec.Hidden / spec.Heads, q = spec.Heads * head, kv = spec.KvHeads * head;
        HostTensor Normal(float scale, params long[] shape)
        {
            var data = new float[shape.Aggregate(1L, (a, b) => a * b)];
            for (var i = 0; i < data.Length; i++)
                data[i] = (float)(scale * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
            return new HostTensor(shape, data);
        }
        HostTensor Norm()
        {
            var t = Normal(spec.NormJitter, h);
            for (var i = 0; i < t.Data.Length; i++)
                t.Data[i] += 1;
            return t;
        }
        var tensors = new Dictionary<string, HostTensor>(StringComparer.Ordinal)
        {
            ["model.embed_tokens.weight"] = Normal(spec.EmbeddingScale, vocabulary, h),
            ["model.norm.weight"] = Norm(),
        };
        if (!spec.TiedEmbeddings)
            tensors["lm_head.weight"] = Normal(spec.WeightScale, vocabulary, h);
        var bias = spec.Architecture == "Qwen2ForCausalLM";
        for (var i = 0; i < spec.Layers; i++)
        {
            var p = $"model.layers.{i}.";
            tensors[p + "self_attn.q_proj.weight"] = Normal(spec.WeightScale, q, h);
            tensors[p + "self_attn.k_proj.weight"] = Normal(spec.WeightScale, kv, h);
            tensors[p + "self_attn.v_proj.weight"] = Normal(spec.WeightScale, kv, h);
            tensors[p + "self_attn.o_proj.weight"] = Normal(spec.WeightScale, h, q);
            if (bias)
            {
                tensors[p + "self_attn.q_proj.bias"] = Normal(spec.WeightScale / 2, q);
                tensors[p + "self_attn.k_proj.bias"] = Normal(spec.WeightScale / 2, kv);
                tensors[p + "self_attn.v_proj.bias"] = Normal(spec.WeightScale / 2, kv);
            }
            tensors[p + "mlp.gate_proj.weight"] = Normal(spec.WeightScale, intermediate, h);
            tensors[p + "mlp.up_proj.weight"] = Normal(spec.WeightScale, intermediate, h);
            tensors[p + "mlp.down_proj.weight"] = Normal(spec.WeightScale, h, intermediate);
            tensors[p + "input_layernorm.weight"] = Norm();
            tensors[p + "post_attention_layernorm.weight"] = Norm();
        }
        return tensors;
    }
}
