using System.Globalization;

namespace ControlPlane.LoadGen.Traces;

/// <summary>Reads BurstGPT CSVs (timestamps in seconds from the trace's start). Rows with no response tokens (failures in the original service) are kept: they replay as 1-token answers.</summary>
public static class BurstGptReader
{
    public static IReadOnlyList<TraceRequest> Read(TextReader reader)
    {
        var rows = CsvTrace.Read(reader, "BurstGPT", ["Timestamp", "Request tokens", "Response tokens"], (cells, at) => new TraceRequest(
            double.Parse(cells[at[0]], CultureInfo.InvariantCulture) * 1000,
            int.Parse(cells[at[1]], CultureInfo.InvariantCulture),
            Math.Max(1, int.Parse(cells[at[2]], CultureInfo.InvariantCulture))));
        var start = rows.Count == 0 ? 0 : rows.Min(r => r.ArrivalMs);
        return [.. rows.Select(r => r with { ArrivalMs = r.ArrivalMs - start }).OrderBy(r => r.ArrivalMs)];
    }
}
