using ControlPlane.Engine.Loading;
using ControlPlane.Models.Configuration;
using ControlPlane.Models.Folders;
using static TorchSharp.torch;

namespace ControlPlane.Engine.Tests;

public class ModelFolderTests
{
    [Fact]
    public void Load_MissingConfig_NamesTheFile()
    {
        var folder = TinyModel.Create();
        File.Delete(Path.Combine(folder, "config.json"));
        var ex = Assert.Throws<FileNotFoundException>(() => ModelFolder.Load(folder, CPU));
        Assert.Contains("config.json", ex.Message);
    }

    [Fact]
    public void Load_MissingWeights_NamesBothFileNames()
    {
        var folder = TinyModel.Create();
        File.Delete(Path.Combine(folder, "model.safetensors"));
        var ex = Assert.Throws<FileNotFoundException>(() => ModelFolder.Load(folder, CPU));
        Assert.Contains("model.safetensors.index.json", ex.Message);
    }

    [Fact]
    public void Load_WrongShape_NamesTensorAndShapes()
    {
        var folder = TinyModel.Create(edit: t =>
        {
            t["model.layers.1.mlp.up_proj.weight"] = HostTensor.Zeros(100, TinyModel.Hidden);
        });
        var ex = Assert.Throws<InvalidDataException>(() => ModelFolder.Load(folder, CPU));
        Assert.Contains("model.layers.1.mlp.up_proj.weight", ex.Message);
        Assert.Contains("[100, 64]", ex.Message);
        Assert.Contains("[128, 64]", ex.Message);
    }

    [Fact]
    public void Load_MissingTensor_NamesIt()
    {
        var folder = TinyModel.Create(edit: t => t.Remove("model.norm.weight"));
        var ex = Assert.Throws<InvalidDataException>(() => ModelFolder.Load(folder, CPU));
        Assert.Contains("model.norm.weight", ex.Message);
    }

    [Fact]
    public void Load_UnsupportedArchitecture_SaysWhichAreSupported()
    {
        var folder = TinyModel.Create(architecture: "GPT2LMHeadModel");
        var ex = Assert.Throws<NotSupportedException>(() => ModelFolder.Load(folder, CPU));
        Assert.Contains("GPT2LMHeadModel", ex.Message);
        Assert.Contains("LlamaForCausalLM", ex.Message);
    }

    [Fact]
    public void Load_QwenWithBiasAndTiedEmbeddings_Loads()
    {
        var folder = TinyModel.Create(architecture: "Qwen2ForCausalLM", tied: true);
        using var weights = ModelFolder.Load(folder, CPU);
        Assert.NotNull(weights.Layers[0].QkvBias);
        Assert.Same(weights.Embeddings, weights.LmHead);
    }

    [Fact]
    public void Load_Sharded_ReadsEveryShard()
    {
        var folder = TinyModel.Create();
        using (var file = new SafetensorsFile(Path.Combine(folder, "model.safetensors")))
        {
            var names = file.Entries.Keys.Order(StringComparer.Ordinal).ToArray();
            var half = names.Length / 2;
            SafetensorsWriter.Write(Path.Combine(folder, "model-00001-of-00002.safetensors"), names[..half].ToDictionary(n => n, n => Host(file, n)));
            SafetensorsWriter.Write(Path.Combine(folder, "model-00002-of-00002.safetensors"), names[half..].ToDictionary(n => n, n => Host(file, n)));
            File.WriteAllText(Path.Combine(folder, "model.safetensors.index.json"), System.Text.Json.JsonSerializer.Serialize(new
            {
                weight_map = names.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i < half ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors"),
            }));
        }
        File.Delete(Path.Combine(folder, "model.safetensors"));
        using var weights = ModelFolder.Load(folder, CPU);
        Assert.Equal(TinyModel.Layers, weights.Layers.Count);
    }

    private static HostTensor Host(SafetensorsFile file, string name)
    {
        using var tensor = file.Read(name);
        return new HostTensor(tensor.shape, tensor.data<float>().ToArray());
    }
}

public class LlamaConfigTests
{
    [Fact]
    public void Parse_Transformers5Config_ReadsRopeParametersAndDtype()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory().FullName, "config.json");
        File.WriteAllText(path, """
            {"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":128,"num_hidden_layers":2,
             "num_attention_heads":4,"num_key_value_heads":2,"vocab_size":300,"dtype":"float32",
             "rope_parameters":{"rope_type":"llama3","rope_theta":500000.0,"factor":8.0,"low_freq_factor":1.0,
                                "high_freq_factor":4.0,"original_max_position_embeddings":256}}
            """);
        var config = LlamaConfig.Parse(path);
        Assert.Equal(500000.0, config.RopeTheta);
        Assert.Equal(new RopeScaling(8, 1, 4, 256), config.RopeScaling);
        Assert.Equal("float32", config.TorchDType);
        Assert.Equal(16, config.HeadDim);
    }
}
