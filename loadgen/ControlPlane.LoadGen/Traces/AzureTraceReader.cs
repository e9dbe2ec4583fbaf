using System.Globalization;

namespace ControlPlane.LoadGen.Traces;

/// <summary>Reads Azure LLM inference traces (2023 code and conversation, 2024 week-long): arrivals relative to the first row.</summary>
public static class AzureTraceReader
{
    public static IReadOnlyList<TraceRequest> Read(TextReader reader)
    {
        var rows = CsvTrace.Read(reader, "Azure", ["TIMESTAMP", "ContextTokens", "GeneratedTokens"], (cells, at) => (
            At: DateTime.Parse(cells[at[0]], CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal),
            Input: int.Parse(cells[at[1]], CultureInfo.InvariantCulture),
            Output: int.Parse(cells[at[2]], CultureInfo.InvariantCulture)));
        var first = rows.Count == 0 ? default : rows[0].At;
        return [.. rows.Select(r => new TraceRequest((r.At - first).TotalMilliseconds, r.Input, r.Output))];
    }
}
