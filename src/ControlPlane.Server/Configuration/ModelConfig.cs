using ControlPlane.Instances;

namespace ControlPlane.Server.Configuration;

/// <summary>One entry of <c>ControlPlane:Models</c>: a served model and the engines this silo runs for it.</summary>
public sealed record ModelConfig
{
    public string Name { get; init; } = "";

    /// <summary>The engine backend: <c>simulated</c> or <c>torchsharp</c>.</summary>
    public string Engine { get; init; } = "simulated";

    /// <summary>Engine instances of this model that this silo runs.</summary>
    public int Instances { get; init; } = 1;

    /// <summary>
    /// The role of this silo's instances of the model: <c>mixed</c> (prompts and tokens), <c>prefill</c> (prompts that
    /// the dispatcher splits off, handed on to a decode instance) or <c>decode</c> (tokens, and prompts too short to split).
    /// The operator sets it per pool.
    /// </summary>
    public string Role { get; init; } = "mixed";

    /// <summary>Roles by instance index, overriding <see cref="Role"/> for the first ones (one process with a prefill and a decode instance).</summary>
    public IReadOnlyList<string> Roles { get; init; } = [];

    /// <summary>The role of instance <paramref name="index"/>.</summary>
    public InstanceRole RoleOf(int index) => ParseRole(index < Roles.Count ? Roles[index] : Role) ?? InstanceRole.Mixed;

    /// <summary>The role a configuration value names, or null when it names none.</summary>
    public static InstanceRole? ParseRole(string value) => value.ToLowerInvariant() switch
    {
        "mixed" => InstanceRole.Mixed,
        "prefill" => InstanceRole.Prefill,
        "decode" => InstanceRole.Decode,
        _ => null,
    };

    /// <summary>The model's objectives: time to first token and time per output token, ms (the status page's SLO attainment, the autoscaler's TTFT target).</summary>
    public double SloTtftMs { get; init; } = 1000;
    public double SloTpotMs { get; init; } = 100;

    /// <summary>
    /// This model's dispatch policy (one of <c>ControlPlane:Dispatch:Policy</c>'s names: round-robin, least-request, ...);
    /// null: the gateway's. A ModelService's <c>dispatch.policy</c> lands here on its workers and reaches every gateway
    /// through the model's card.
    /// </summary>
    public string? DispatchPolicy { get; init; }

    /// <summary>
    /// Requests waiting on one of this model's instances beyond which its dispatch refuses more with 429 (a ModelService's
    /// <c>dispatch.queueLimit</c>); null: the gateway's <c>ControlPlane:Dispatch:QueueLimit</c>.
    /// </summary>
    public int? DispatchQueueLimit { get; init; }

    /// <summary>
    /// Whether the scheduler live-migrates this model's requests (to balance load and off draining instances); null: the
    /// scheduler silo's <c>ControlPlane:Migration:Enabled</c>. A ModelService's <c>migration.enabled</c> lands here.
    /// </summary>
    public bool? Migration { get; init; }

    /// <summary>
    /// The named classes this model's requests may ask for by <c>priority_class</c>, each a service class and a priority (a
    /// ModelService's <c>priorityClasses</c>); they reach every gateway through the model's card. A class's priority is
    /// still bounded by the caller's tenant (<c>MaxPriority</c>, <c>MaxServiceTier</c>).
    /// </summary>
    public IReadOnlyList<PriorityClassConfig> PriorityClasses { get; init; } = [];

    /// <summary>The simulated engine's performance profile: a built-in name or a JSON file.</summary>
    public string Profile { get; init; } = "llama-3-8b-h100-roofline";

    /// <summary>Overrides the profile's context length.</summary>
    public int? MaxContextTokens { get; init; }

    /// <summary>Overrides the profile's KV capacity.</summary>
    public int? KvBlocks { get; init; }

    /// <summary>
    /// TorchSharp engine: the Hugging Face model folder, or <c>builtin:tiny-random</c> for a small random-weight
    /// Llama written on first start (text is noise; the engine path is real).
    /// </summary>
    public string? Path { get; init; }

    /// <summary>TorchSharp engine: <c>cpu</c> or <c>cuda</c>.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>
    /// TorchSharp engine on cuda: <c>nvml</c> reads the GPU's draw and applies the power domain's caps through NVML (the
    /// operator must grant the privilege to set limits); <c>none</c> (the default): no power reading or cap.
    /// </summary>
    public string PowerActuator { get; init; } = "none";

    /// <summary>TorchSharp engine: tokens one step may compute (a longer prompt prefills in chunks of this size); default 2048.</summary>
    public int? MaxBatchedTokens { get; init; }

    /// <summary>
    /// TorchSharp engine on cuda (bf16/fp16): measure each decode batch bucket's matrix products at start and take a
    /// cuBLASLt configuration where one beats libtorch's own by 2 % (about 2.4 s a bucket, 30 s for buckets up to 256 rows
    /// on an H100, unless <see cref="DecodeProductsCache"/> holds the choices); false keeps libtorch's products and starts
    /// sooner.
    /// </summary>
    public bool MeasureDecodeProducts { get; init; } = true;

    /// <summary>
    /// TorchSharp engine on cuda: the file that keeps the measured products' choices across starts, per GPU kind and
    /// cuBLASLt version, so that only the first start pays for the search. Unset: <c>$XDG_CACHE_HOME/controlplane/decode-products.json</c>
    /// (else under <c>~/.cache</c>); empty: none.
    /// </summary>
    public string? DecodeProductsCache { get; init; }

    /// <summary>TorchSharp engine: KV cache size in MiB per instance.</summary>
    public int KvCacheMiB { get; init; } = 256;

    /// <summary>
    /// Host memory per instance for KV blocks the GPU evicts (the host tier), MiB; 0: none. Blocks come back on a prefix
    /// hit instead of being recomputed. Pinned memory on CUDA.
    /// </summary>
    public int HostKvCacheMiB { get; init; }

    /// <summary>
    /// The chat template: <c>auto</c> (the form the model folder's <c>tokenizer_config.json</c> declares; ChatML
    /// for simulated models), <c>chatml</c> or <c>llama3</c>.
    /// </summary>
    public string ChatTemplate { get; init; } = "auto";
}

/// <summary>One of a model's priority classes (<see cref="ModelConfig.PriorityClasses"/>).</summary>
public sealed record PriorityClassConfig
{
    public string Name { get; init; } = "";

    /// <summary>interactive, standard or batch.</summary>
    public string ServiceClass { get; init; } = "standard";

    /// <summary>From -1000 to 1000; a higher one is served first within its class.</summary>
    public int Priority { get; init; }

    /// <summary>The class of requests that name none (and give no service_tier or priority); at most one a model.</summary>
    public bool Default { get; init; }

    /// <summary>The class as requests carry it; call after validation.</summary>
    public ControlPlane.Requests.PriorityClass ToClass() =>
        new(Name, ControlPlane.Requests.PriorityClass.ParseServiceClass(ServiceClass) ?? throw new InvalidOperationException($"'{ServiceClass}' is not a service class"), Priority)
        {
            IsDefault = Default,
        };
}
