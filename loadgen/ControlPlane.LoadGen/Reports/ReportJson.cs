using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ControlPlane.LoadGen.Reports;

/// <summary>
/// How reports are written and read as JSON. A figure that has no value (a percentile of no requests, a rate over no
/// time) is NaN in memory and <c>null</c> in the file, so that any JSON reader (jq, pandas) takes the file's numbers as
/// numbers; reports written before this (with <c>"NaN"</c> strings) still read.
/// </summary>
public static class ReportJson
{
    public static readonly JsonSerializerOptions Indented = Create(indented: true);
    public static readonly JsonSerializerOptions Compact = Create(indented: false);

    private static JsonSerializerOptions Create(bool indented)
    {
        var options = new JsonSerializerOptions { WriteIndented = indented };
        options.Converters.Add(new FiniteOrNull());
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }

    /// <summary>A double as a JSON number, or null when it is not finite; reads numbers, null and the named literals.</summary>
    private sealed class FiniteOrNull : JsonConverter<double>
    {
        public override bool HandleNull => true;

        public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
        {
            JsonTokenType.Number => reader.GetDouble(),
            JsonTokenType.Null => double.NaN,
            JsonTokenType.String when double.TryParse(reader.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var named) => named,
            _ => throw new JsonException($"expected a number or null, got {reader.TokenType}"),
        };

        public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
        {
            if (double.IsFinite(value))
                writer.WriteNumberValue(value);
            else
                writer.WriteNullValue();
        }
    }
}
