using System.Globalization;

namespace ControlPlane.LoadGen.Traces;

/// <summary>Reads Azure LLM inference traces (2023 code and conversation, 2024 week-long): arrivals relative to the first row.</summary>
public static class AzureTraceReader
{
    public static IReadOnlyList<TraceRequest> Read(TextReader reader)
    {
        var columns = CsvHeader.Columns(reader, "Azure", "TIMESTAMP", "ContextTokens", "GeneratedTokens");
        int time = columns[0], context = columns[1], generated = columns[2];

        var requests = new List<TraceRequest>();
        DateTime? first = null;
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
                var at = DateTime.Parse(cells[time], CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal);
                first ??= at;
                requests.Add(new TraceRequest((at - first.Value).TotalMilliseconds,
                    int.Parse(cells[context], CultureInfo.InvariantCulture), int.Parse(cells[generated], CultureInfo.InvariantCulture)));
            }
            catch (Exception ex) when (ex is FormatException or IndexOutOfRangeException or OverflowException)
            {
                throw new InvalidDataException($"Azure trace line {number} is malformed: '{line}'", ex);
            }
        }
        return requests;
    }
}
