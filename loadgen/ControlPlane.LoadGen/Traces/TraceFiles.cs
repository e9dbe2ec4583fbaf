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
