using System.Text.Json;

namespace ControlPlane.Models.Configuration;

/// <summary>Llama-3 RoPE frequency scaling (<c>rope_type: llama3</c>): low frequencies stretched by <see cref="Factor"/>, high ones kept, a smooth band between.</summary>
public sealed record RopeScaling(double Factor, double LowFrequencyFactor, double HighFrequencyFactor, int OriginalMaxPositions)
{
    public static RopeScaling? Parse(JsonElement root, string path)
    {
        if (!(root.TryGetProperty("rope_scaling", out var s) && s.ValueKind == JsonValueKind.Object)
            && !(root.TryGetProperty("rope_parameters", out s) && s.ValueKind == JsonValueKind.Object))
            return null;
        var type = s.TryGetProperty("rope_type", out var t) ? t.GetString() : s.TryGetProperty("type", out var t2) ? t2.GetString() : null;
        if (type is "default" or null)
            return null;
        if (type != "llama3")
            throw new NotSupportedException($"{path}: rope_scaling type '{type}' is not supported (llama3 is)");
        return new RopeScaling(s.GetProperty("factor").GetDouble(), s.GetProperty("low_freq_factor").GetDouble(),
            s.GetProperty("high_freq_factor").GetDouble(), s.GetProperty("original_max_position_embeddings").GetInt32());
    }
}
