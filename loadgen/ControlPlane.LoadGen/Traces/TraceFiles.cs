namespace ControlPlane.LoadGen.Traces;

/// <summary>Opens a trace file in a given format (or the one its name suggests).</summary>
public static class TraceFiles
{
    public static TraceFormat Guess(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".jsonl" => TraceFormat.Mooncake,
        _ when Path.GetFileName(path).Contains("burst", StringComparison.OrdinalIgnoreCase) => TraceFormat.BurstGpt,
        _ => TraceFormat.Azure,
    };

    /// <summary>
    /// Several traces mixed into one by arrival time (each from its own start: the Azure 2023 traces were recorded over
    /// the same hour), e.g. conversation and code; one path reads as <see cref="Read"/>.
    /// </summary>
    public static IReadOnlyList<TraceRequest> ReadMixed(IReadOnlyList<string> paths) => paths.Count == 1
        ? Read(paths[0])
        : [.. paths.SelectMany(p => Read(p)).OrderBy(r => r.ArrivalMs)];

    public static IReadOnlyList<TraceRequest> Read(string path, TraceFormat? format = null, double mooncakeBucketMs = 3000)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"trace file '{path}' does not exist", path);
        using var reader = new StreamReader(path);
        return (format ?? Guess(path)) switch
        {
            TraceFormat.Azure => AzureTraceReader.Read(reader),
            TraceFormat.BurstGpt => BurstGptReader.Read(reader),
            TraceFormat.Mooncake => MooncakeTraceReader.Read(reader, mooncakeBucketMs),
            var other => throw new ArgumentOutOfRangeException(nameof(format), other, "unknown trace format"),
        };
    }
}
