using System.Text.Json;
using ControlPlane.Models.Folders;
using ControlPlane.Engine.Model;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Loading;

/// <summary>
/// Loads a Hugging Face model folder: <c>config.json</c>, <c>model.safetensors</c> or shards listed in
/// <c>model.safetensors.index.json</c>. Every problem is an error that names the file and the tensor.
/// </summary>
public static class ModelFolder
{
    public static LlamaWeights Load(string folder, Device device, ScalarType? dtype = null) => Load(ModelFolderInfo.Read(folder), device, dtype);

    /// <summary>Loads the weights of a folder whose config was read already.</summary>
    public static LlamaWeights Load(ModelFolderInfo info, Device device, ScalarType? dtype = null)
    {
        var folder = info.Folder;
        var config = info.Config;
        var type = dtype ?? config.TorchDType switch
        {
            "float32" => ScalarType.Float32,
            "float16" => ScalarType.Float16,
            _ => ScalarType.BFloat16,
        };
        var files = OpenShards(folder);
        try
        {
            var lookup = files.SelectMany(f => f.Entries.Keys.Select(k => (k, f))).ToDictionary(p => p.k, p => p.f, StringComparer.Ordinal);
            Tensor Take(string name, params long[] shape)
            {
                if (!lookup.TryGetValue(name, out var file))
                    throw new InvalidDataException($"model folder '{folder}' has no tensor '{name}'");
                var entry = file.Entries[name];
                if (!entry.Shape.SequenceEqual(shape))
                    throw new InvalidDataException($"{file.Path}: tensor '{name}' has shape {SafetensorsFile.Shape(entry.Shape)}, expected {SafetensorsFile.Shape(shape)}");
                using var cpu = file.Read(name);
                return cpu.to(type, device);
            }

            var c = config;
            long h = c.HiddenSize, q = c.Heads * c.HeadDim, kv = c.KvHeads * c.HeadDim;
            var embeddings = Take("model.embed_tokens.weight", c.VocabularySize, h);
            var layers = new List<LlamaLayer>(c.Layers);
            for (var i = 0; i < c.Layers; i++)
            {
                var p = $"model.layers.{i}.";
                using var wq = Take(p + "self_attn.q_proj.weight", q, h);
                using var wk = Take(p + "self_attn.k_proj.weight", kv, h);
                using var wv = Take(p + "self_attn.v_proj.weight", kv, h);
                Tensor? bias = null;
                if (c.AttentionBias)
                {
                    using var bq = Take(p + "self_attn.q_proj.bias", q);
                    using var bk = Take(p + "self_attn.k_proj.bias", kv);
                    using var bv = Take(p + "self_attn.v_proj.bias", kv);
                    bias = cat([bq, bk, bv], 0);
                }
                using var gate = Take(p + "mlp.gate_proj.weight", c.IntermediateSize, h);
                using var up = Take(p + "mlp.up_proj.weight", c.IntermediateSize, h);
                layers.Add(new LlamaLayer(
                    Take(p + "input_layernorm.weight", h),
                    cat([wq, wk, wv], 0), bias,
                    Take(p + "self_attn.o_proj.weight", h, q),
                    Take(p + "post_attention_layernorm.weight", h),
                    cat([gate, up], 0),
                    Take(p + "mlp.down_proj.weight", h, c.IntermediateSize)));
            }
            var norm = Take("model.norm.weight", h);
            var head = c.TieWordEmbeddings && !lookup.ContainsKey("lm_head.weight")
                ? embeddings
                : Take("lm_head.weight", c.VocabularySize, h);
            return new LlamaWeights(c, embeddings, layers, norm, head);
        }
        finally
        {
            foreach (var f in files)
                f.Dispose();
        }
    }

    private static List<SafetensorsFile> OpenShards(string folder)
    {
        var single = Path.Combine(folder, "model.safetensors");
        if (File.Exists(single))
            return [new SafetensorsFile(single)];
        var index = Path.Combine(folder, "model.safetensors.index.json");
        if (!File.Exists(index))
            throw new FileNotFoundException($"model folder '{folder}' has neither model.safetensors nor model.safetensors.index.json", single);
        using var json = JsonDocument.Parse(File.ReadAllText(index));
        var shards = json.RootElement.GetProperty("weight_map").EnumerateObject().Select(p => p.Value.GetString()!).Distinct().ToArray();
        var files = new List<SafetensorsFile>();
        foreach (var shard in shards)
        {
            var path = Path.Combine(folder, shard);
            if (!File.Exists(path))
                throw new FileNotFoundException($"model folder '{folder}': shard '{shard}' named in model.safetensors.index.json is missing", path);
            files.Add(new SafetensorsFile(path));
        }
        return files;
    }
}
