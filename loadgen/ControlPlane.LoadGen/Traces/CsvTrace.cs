namespace ControlPlane.LoadGen.Traces;

/// <summary>Reads a trace CSV: finds the named columns in its header, parses each row, and names the line of any malformed one.</summary>
public static class CsvTrace
{
    public static List<T> Read<T>(TextReader reader, string trace, string[] names, Func<string[], int[], T> parse)
    {
        var header = reader.ReadLine() ?? throw new InvalidDataException($"the {trace} trace is empty");
        var columns = header.Trim().TrimStart('\uFEFF').Split(',');
        int[] at = [.. names.Select(name => Array.IndexOf(columns, name) is var i and >= 0 ? i
            : throw new InvalidDataException($"the {trace} trace has no '{name}' column (header: {header})"))];
        var rows = new List<T>();
        string? line;
        var number = 1;
        while ((line = reader.ReadLine()) is not null)
        {
            number++;
            if (line.Length == 0)
                continue;
            try
            {
                rows.Add(parse(line.Split(','), at));
            }
            catch (Exception ex) when (ex is FormatException or IndexOutOfRangeException or OverflowException)
            {
                throw new InvalidDataException($"{trace} trace line {number} is malformed: '{line}'", ex);
            }
        }
        return rows;
    }
}
