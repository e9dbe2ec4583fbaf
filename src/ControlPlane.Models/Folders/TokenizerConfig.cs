using System.Text.Json;

namespace ControlPlane.Models.Folders;

/// <summary>
/// What a model folder's <c>tokenizer_config.json</c> says that serving needs: the end-of-sequence token's
/// text and the chat template (a string, or the one named "default" in a list). Empty when the file is absent.
/// </summary>
public sealed record TokenizerConfig(string Path, string? EndOfSequenceToken, string? ChatTemplate)
{
    public static TokenizerConfig Read(string folder)
    {
        var path = System.IO.Path.Combine(folder, "tokenizer_config.json");
        if (!File.Exists(path))
            return new TokenizerConfig(path, null, null);
        using var json = JsonDocument.Parse(File.ReadAllText(path));
        var root = json.RootElement;
        var eos = root.TryGetProperty("eos_token", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;
        return new TokenizerConfig(path, eos, TemplateText(root));
    }

    private static string? TemplateText(JsonElement root)
    {
        if (!root.TryGetProperty("chat_template", out var template))
            return null;
        if (template.ValueKind == JsonValueKind.String)
            return template.GetString();
        if (template.ValueKind != JsonValueKind.Array)
            return null;
        foreach (var named in template.EnumerateArray())
        {
            if (named.TryGetProperty("name", out var name) && name.GetString() == "default" && named.TryGetProperty("template", out var text))
                return text.GetString();
        }
        return null;
    }
}
