namespace ControlPlane.LoadGen.Traces;

/// <summary>Reads a trace CSV's header and finds the columns a reader needs, naming any that is missing.</summary>
public static class CsvHeader
{
    public static int[] Columns(TextReader reader, string trace, params string[] names)
    {
        var header = reader.ReadLine() ?? throw new InvalidDataException($"the {trace} trace is empty");
        var columns = header.Trim().TrimStart('\uFEFF').Split(',');
        return [.. names.Select(name => Array.IndexOf(columns, name) is var i and >= 0 ? i
            : throw new InvalidDataException($"the {trace} trace has no '{name}' column (header: {header})"))];
    }
}
