using System.Globalization;

namespace ControlPlane.LoadGen.Traces;

/// <summary>Reads Azure LLM inference traces (2023 code and conversation, 2024 week-long): arrivals relative to the first row.</summary>
public static class AzureTraceReader
{
    public static IReadOnlyList<TraceRequest> Read(TextReader reader)
    {
        var header = reader.ReadLine() ?? throw new InvalidDataException("the Azure trace is empty");
        var columns = header.Trim().TrimStart('\uFEFF').Split(',');
        int Column(string name) => Array.IndexOf(columns, name) is var i and >= 0 ? i
            : throw new InvalidDataException($"the Azure trace has no '{name}' column (header: {header})");
        int time = Column("TIMESTAMP"), context = Column("ContextTokens"), generated = Column("GeneratedTokens");

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
