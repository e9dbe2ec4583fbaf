using System.Text.Json;

namespace ControlPlane.Simulation.Performance;

/// <summary>
/// Step time of one model on one GPU as a linear function of the batch, and its KV capacity; loaded from a
/// data file that says where its numbers come from.
/// </summary>
public sealed record PerformanceProfile
{
    public const string Default = "llama-3-8b-h100-roofline";
    private static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true };

    public required string Name { get; init; }
    public required string Provenance { get; init; }
    public double StepOverheadMs { get; init; }
    public double PrefillMsPerToken { get; init; }
    public double DecodeMsPerSequence { get; init; }
    public double MsPerContextToken { get; init; }
    public int KvBlockSize { get; init; } = 16;
    public int TotalKvBlocks { get; init; }
    public int MaxContextTokens { get; init; }
    public int MaxBatchedTokens { get; init; } = 2048;
    public int MaxRunningRequests { get; init; } = 256;

    /// <summary>
    /// Attention's part of a long prefill, which the linear terms miss: ms per pair of (prefill token, context position
    /// it attends to), so a chunk of n tokens from position s adds n·(s + n/2) pairs. 0: ignored (short contexts).
    /// </summary>
    public double PrefillMsPerAttentionPair { get; init; }

    /// <summary>
    /// The extra fixed cost of a step that carries prefill over one that only decodes. The TorchSharp engine replays
    /// decode-only steps as CUDA graphs but launches a step with prefill kernel by kernel, so such a step has a floor
    /// of its own (fitted from a served run's step log by fit_profile.py). 0: none.
    /// </summary>
    public double PrefillStepOverheadMs { get; init; }

    /// <summary>Bytes of keys and values per token (all layers): what a KV transfer or a host-tier copy moves. 0: unknown.</summary>
    public long KvBytesPerToken { get; init; }

    /// <summary>GPU ↔ pinned host memory copy rate, bytes/s, for blocks brought back from the host tier. 0: free.</summary>
    public double HostCopyBytesPerSecond { get; init; }

    /// <summary>Bytes of one KV block.</summary>
    public long KvBytesPerBlock => KvBytesPerToken * KvBlockSize;

    /// <summary>The time to copy <paramref name="blocks"/> blocks back from host memory.</summary>
    public TimeSpan HostCopyTime(int blocks) => HostCopyBytesPerSecond > 0 && blocks > 0
        ? TimeSpan.FromSeconds(blocks * (double)KvBytesPerBlock / HostCopyBytesPerSecond)
        : TimeSpan.Zero;

    /// <summary>The GPU's power model, when the profile has one (power-capping simulations need it).</summary>
    public Power.PowerModel? Power { get; init; }

    /// <summary>The time one step takes for this batch.</summary>
    public TimeSpan StepTime(int prefillTokens, int decodeSequences, long contextTokens, double attentionPairs = 0) =>
        TimeSpan.FromMilliseconds(StepOverheadMs + (prefillTokens > 0 ? PrefillStepOverheadMs : 0) + PrefillMsPerToken * prefillTokens
            + DecodeMsPerSequence * decodeSequences + MsPerContextToken * contextTokens + PrefillMsPerAttentionPair * attentionPairs);

    /// <summary>
    /// The step split into its prefill part (the prefill tokens' compute) and the rest (weights and KV reads,
    /// decode rows): what a power cap stretches differently.
    /// </summary>
    public (double PrefillMs, double OtherMs) StepParts(int prefillTokens, int decodeSequences, long contextTokens, double attentionPairs = 0) =>
        (PrefillMsPerToken * prefillTokens + PrefillMsPerAttentionPair * attentionPairs,
         StepOverheadMs + (prefillTokens > 0 ? PrefillStepOverheadMs : 0) + DecodeMsPerSequence * decodeSequences + MsPerContextToken * contextTokens);

    /// <summary>The built-in profiles, by name.</summary>
    public static IReadOnlyCollection<string> BuiltIn { get; } = typeof(PerformanceProfile).Assembly
        .GetManifestResourceNames().Where(n => n.StartsWith("profiles/", StringComparison.Ordinal))
        .Select(n => Path.GetFileNameWithoutExtension(n)).ToArray();

    /// <summary>Loads a built-in profile by name, or a JSON file by path.</summary>
    public static PerformanceProfile Load(string nameOrPath)
    {
        using var stream = File.Exists(nameOrPath)
            ? File.OpenRead(nameOrPath)
            : typeof(PerformanceProfile).Assembly.GetManifestResourceStream($"profiles/{nameOrPath}.json")
              ?? throw new FileNotFoundException(
                  $"performance profile '{nameOrPath}' is neither a file nor a built-in profile ({string.Join(", ", BuiltIn)})");
        return JsonSerializer.Deserialize<PerformanceProfile>(stream, Json)
            ?? throw new InvalidDataException($"performance profile '{nameOrPath}' is empty");
    }
}
