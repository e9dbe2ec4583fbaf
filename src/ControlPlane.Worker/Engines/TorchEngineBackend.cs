using ControlPlane.Engine;
using ControlPlane.Engine.Loading;
using ControlPlane.Engines;
using ControlPlane.Server.Configuration;
using ControlPlane.Server.Hosting;
using TorchSharp;

namespace ControlPlane.Worker.Engines;

/// <summary>TorchSharp engines: instances of one model on one device share its weights; each has its own KV cache.</summary>
public sealed class TorchEngineBackend : IEngineBackend
{
    public string Name => TorchEngine.BackendName;

    /// <summary>NVML on the GPU this silo's CUDA device 0 is (one instance per GPU: the cap is the whole board's).</summary>
    public ControlPlane.Power.IPowerActuator? CreatePowerActuator(ModelConfig model, int index) =>
        model.PowerActuator == "nvml" ? ControlPlane.Engine.Cuda.NvmlPowerActuator.Open(CudaOrdinal()) : null;

    /// <summary>
    /// The NVML index of CUDA device 0: the first of CUDA_VISIBLE_DEVICES when it names indices (Worker:Gpu puts the
    /// worker's GPU first), else 0.
    /// </summary>
    private static int CudaOrdinal() =>
        Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES") is { Length: > 0 } visible
        && int.TryParse(visible.Split(',')[0], System.Globalization.CultureInfo.InvariantCulture, out var first) ? first : 0;

    public IEnumerable<IEngine> CreateEngines(ModelConfig model, ModelFolders folders, IServiceProvider services)
    {
        if (model.Instances == 0)
            yield break;
        var folder = folders.Get(model);
        if (model.Device == "cuda")
        {
            // Before CUDA starts: this worker's GPU becomes device 0, the host's others stay visible for the KV device path.
            if (services.GetService<Microsoft.Extensions.Options.IOptions<ControlPlane.Grains.Engines.WorkerConfig>>()?.Value.Gpu is { } gpu)
            {
                var visible = ControlPlane.Engine.Cuda.GpuPinning.Apply(gpu);
                services.GetService<ILoggerFactory>()?.CreateLogger<TorchEngineBackend>()
                    .LogInformation("Pinned to GPU {Gpu}: CUDA_VISIBLE_DEVICES={Visible}", gpu, visible);
            }
            torch.InitializeDeviceType(DeviceType.CUDA);
        }
        var weights = ModelFolder.Load(folder, model.Device == "cuda" ? torch.CUDA : torch.CPU);
        var tokenizer = folder.LoadTokenizer();
        var logger = services.GetService<ILoggerFactory>()?.CreateLogger<TorchEngineBackend>();
        for (var i = 0; i < model.Instances; i++)
        {
            var engine = new TorchEngine(model.Name, weights, tokenizer, new TorchEngineOptions
            {
                KvBlocks = model.KvBlocks,
                KvCacheBytes = (long)model.KvCacheMiB << 20,
                MaxBatchedTokens = model.MaxBatchedTokens ?? new TorchEngineOptions().MaxBatchedTokens,
                MaxContextTokens = EngineFactory.MaxContext(model, folder.Config.MaxPositionEmbeddings),
                CaptureGraphsAtStart = model.Device == "cuda",
                MeasureDecodeProducts = model.MeasureDecodeProducts,
                DecodeProductsCache = model.DecodeProductsCache is { } file ? (file.Length == 0 ? null : file)
                    : ControlPlane.Engine.Cuda.DecodeProductsCache.DefaultPath(),
            });
            // What the engine runs on, and the start-up work done (graphs captured, products measured or read back).
            logger?.LogInformation("{Model} instance {Index} on {Device}: {Acceleration}; {Graphs} decode graphs captured in {Seconds:F1} s",
                model.Name, i, model.Device, engine.Acceleration, engine.GraphCaptures.Count, engine.GraphCaptures.Time.TotalSeconds);
            yield return engine;
        }
    }
}
