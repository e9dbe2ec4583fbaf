using System.Globalization;

namespace ControlPlane.LoadGen.Traces;

/// <summary>Reads BurstGPT CSVs (timestamps in seconds from the trace's start). Rows with no response tokens (failures in the original service) are kept: they replay as 1-token answers.</summary>
public static class BurstGptReader
{
    public static IReadOnlyList<TraceRequest> Read(TextReader reader)
    {
        var columns = CsvHeader.Columns(reader, "BurstGPT", "Timestamp", "Request tokens", "Response tokens");
        int time = columns[0], input = columns[1], output = columns[2];

        var rows = new List<TraceRequest>();
        string? line;
        var number = 1;
        while ((line = reader.ReadLine()) is not null)
        {
            number++;
            if (line.Length == 0)
                continue;
            var cells = line.Split(',');
            try
            {
                rows.Add(new TraceRequest(double.Parse(cells[time], CultureInfo.InvariantCulture) * 1000,
                    int.Parse(cells[input], CultureInfo.InvariantCulture), Math.Max(1, int.Parse(cells[output], CultureInfo.InvariantCulture))));
            }
            catch (Exception ex) when (ex is FormatException or IndexOutOfRangeException or OverflowException)
            {
                throw new InvalidDataException($"BurstGPT line {number} is malformed: '{line}'", ex);
            }
        }
        var start = rows.Count == 0 ? 0 : rows.Min(r => r.ArrivalMs);
        return [.. rows.Select(r => r with { ArrivalMs = r.ArrivalMs - start }).OrderBy(r => r.ArrivalMs)];
    }
}
