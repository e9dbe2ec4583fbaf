using System.Text.Json;

namespace ControlPlane.LoadGen.Traces;

/// <summary>
/// Reads Mooncake's JSONL traces. Their timestamps come in buckets (3 s in the FAST'25 conversation trace);
/// with <c>spreadBucketMs</c> the requests of one bucket are spread evenly over it instead of firing together.
/// </summary>
public static class MooncakeTraceReader
{
    public const int HashBlockTokens = 512;

    public static IReadOnlyList<TraceRequest> Read(TextReader reader, double spreadBucketMs = 0)
    {
        var rows = new List<TraceRequest>();
        string? line;
        var number = 0;
        while ((line = reader.ReadLine()) is not null)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line))
                continue;
            try
            {
                using var json = JsonDocument.Parse(line);
                var root = json.RootElement;
                var hashes = root.TryGetProperty("hash_ids", out var h) ? h.EnumerateArray().Select(x => x.GetInt32()).ToArray() : null;
                rows.Add(new TraceRequest(root.GetProperty("timestamp").GetDouble(), root.GetProperty("input_length").GetInt32(),
                    root.GetProperty("output_length").GetInt32(), hashes));
            }
            catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new InvalidDataException($"Mooncake trace line {number} is malformed: {ex.Message}", ex);
            }
        }
        return spreadBucketMs > 0 ? Spread(rows, spreadBucketMs) : rows;
    }

    private static List<TraceRequest> Spread(List<TraceRequest> rows, double bucketMs)
    {
        var spread = new List<TraceRequest>(rows.Count);
        foreach (var bucket in rows.GroupBy(r => r.ArrivalMs).OrderBy(g => g.Key))
        {
            var members = bucket.ToArray();
            for (var i = 0; i < members.Length; i++)
                spread.Add(members[i] with { ArrivalMs = bucket.Key + bucketMs * i / members.Length });
        }
        return spread;
    }
}
