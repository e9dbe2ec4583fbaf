using ControlPlane.Models.Chat;
using System.Text.Json;
using ControlPlane.Requests;

namespace ControlPlane.Server.Gateway;

/// <summary>Typed, range-checked reads of a request's JSON fields; each failure names the field.</summary>
internal readonly struct Fields(JsonElement body, string prefix = "")
{
    public string RequiredString(string name)
    {
        if (!body.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
            throw Error(prefix + name, $"you must provide a '{prefix}{name}' parameter.", "missing_required_parameter");
        if (v.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(v.GetString()))
            throw Error(prefix + name, $"'{prefix}{name}' must be a non-empty string.");
        return v.GetString()!;
    }

    public bool? Bool(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        _ => throw Error(prefix + name, $"'{prefix}{name}' must be a boolean."),
    };

    public JsonElement? Object(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.Object } v => v,
        _ => throw Error(prefix + name, $"'{prefix}{name}' must be an object."),
    };

    public int? Int(string name, int min, int max)
    {
        if (Get(name) is not { } v)
            return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out var n))
            throw Error(prefix + name, $"'{prefix}{name}' must be an integer.");
        if (n < min || n > max)
            throw Error(prefix + name, $"'{prefix}{name}' must be between {min} and {max} (got {n}).", "invalid_value");
        return (int)n;
    }

    public long? Long(string name)
    {
        if (Get(name) is not { } v)
            return null;
        return v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) ? n : throw Error(prefix + name, $"'{prefix}{name}' must be an integer.");
    }

    public double? Number(string name, double min, double max, bool minExclusive = false)
    {
        if (Get(name) is not { } v)
            return null;
        if (v.ValueKind != JsonValueKind.Number)
            throw Error(prefix + name, $"'{prefix}{name}' must be a number.");
        var x = v.GetDouble();
        if (x < min || x > max || (minExclusive && x <= min))
            throw Error(prefix + name, $"'{prefix}{name}' must be {(minExclusive ? "greater than" : "at least")} {min} and at most {max} (got {x}).", "invalid_value");
        return x;
    }

    public IReadOnlyList<int>? IntArray(string name)
    {
        if (Get(name) is not { } v)
            return null;
        if (v.ValueKind != JsonValueKind.Array)
            throw Error(prefix + name, $"'{prefix}{name}' must be an array of integers.");
        var ids = new List<int>(v.GetArrayLength());
        foreach (var item in v.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out var id) || id < 0)
                throw Error(prefix + name, $"'{prefix}{name}' must be an array of non-negative integers.");
            ids.Add(id);
        }
        return ids;
    }

    public IReadOnlyList<string> Stop()
    {
        switch (Get("stop"))
        {
            case null:
                return [];
            case { ValueKind: JsonValueKind.String } s:
                return string.IsNullOrEmpty(s.GetString()) ? throw Error("stop", "'stop' must not be empty.") : [s.GetString()!];
            case { ValueKind: JsonValueKind.Array } a:
                if (a.GetArrayLength() > 4)
                    throw Error("stop", $"'stop' may hold at most 4 sequences (got {a.GetArrayLength()}).", "invalid_value");
                var stops = new List<string>();
                foreach (var item in a.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(item.GetString()))
                        throw Error("stop", "'stop' must be a string or an array of non-empty strings.");
                    stops.Add(item.GetString()!);
                }
                return stops;
            default:
                throw Error("stop", "'stop' must be a string or an array of strings.");
        }
    }

    public ServiceClass ServiceTier() => Get("service_tier") switch
    {
        null => ServiceClass.Standard,
        { ValueKind: JsonValueKind.String } s => s.GetString() switch
        {
            "auto" or "default" or "scale" => ServiceClass.Standard,
            "priority" => ServiceClass.Interactive,
            "flex" => ServiceClass.Batch,
            var other => throw Error("service_tier", $"'service_tier' must be one of auto, default, flex, priority (got '{other}').", "invalid_value"),
        },
        _ => throw Error("service_tier", "'service_tier' must be a string."),
    };

    public void RejectUnless(string name, Func<JsonElement, bool> allowed, string message)
    {
        if (body.TryGetProperty(name, out var v) && !allowed(v))
            throw Error(prefix + name, message, "unsupported_value");
    }

    public IReadOnlyList<ChatMessage> Messages()
    {
        if (Get("messages") is not { } v)
            throw Error("messages", "you must provide a 'messages' parameter.", "missing_required_parameter");
        if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() == 0)
            throw Error("messages", "'messages' must be a non-empty array.");
        var messages = new List<ChatMessage>(v.GetArrayLength());
        var i = 0;
        foreach (var m in v.EnumerateArray())
        {
            var at = $"messages[{i++}]";
            if (m.ValueKind != JsonValueKind.Object)
                throw Error(at, $"'{at}' must be an object.");
            if (!m.TryGetProperty("role", out var role) || role.ValueKind != JsonValueKind.String)
                throw Error($"{at}.role", $"'{at}.role' is required.", "missing_required_parameter");
            var roleName = role.GetString()!;
            if (roleName is not ("system" or "developer" or "user" or "assistant" or "tool"))
                throw Error($"{at}.role", $"'{at}.role' must be one of system, developer, user, assistant, tool (got '{roleName}').", "invalid_value");
            messages.Add(new ChatMessage(roleName == "developer" ? "system" : roleName, Content(m, at)));
        }
        return messages;
    }

    public CompletionRequest Prompt(CompletionRequest request)
    {
        switch (Get("prompt"))
        {
            case null:
                throw Error("prompt", "you must provide a 'prompt' parameter.", "missing_required_parameter");
            case { ValueKind: JsonValueKind.String } s:
                return request with { PromptText = s.GetString()! };
            case { ValueKind: JsonValueKind.Array } a when a.GetArrayLength() == 1 && a[0].ValueKind == JsonValueKind.String:
                return request with { PromptText = a[0].GetString()! };
            case { ValueKind: JsonValueKind.Array } a when a.GetArrayLength() > 0 && a[0].ValueKind == JsonValueKind.Number:
                return request with { PromptTokenIds = IntArray("prompt") };
            case { ValueKind: JsonValueKind.Array } a when a.GetArrayLength() > 1:
                throw Error("prompt", "a batch of several prompts is not supported: send one prompt per request.", "unsupported_value");
            default:
                throw Error("prompt", "'prompt' must be a string, an array of one string, or an array of token ids.");
        }
    }

    private static string Content(JsonElement message, string at)
    {
        if (!message.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null)
            return "";
        if (content.ValueKind == JsonValueKind.String)
            return content.GetString()!;
        if (content.ValueKind != JsonValueKind.Array)
            throw Error($"{at}.content", $"'{at}.content' must be a string or an array of text parts.");
        var text = new System.Text.StringBuilder();
        foreach (var part in content.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.GetString() != "text"
                || !part.TryGetProperty("text", out var t) || t.ValueKind != JsonValueKind.String)
                throw Error($"{at}.content", $"'{at}.content' parts must be {{\"type\": \"text\", \"text\": ...}}; other kinds are not supported.", "unsupported_value");
            text.Append(t.GetString());
        }
        return text.ToString();
    }

    private JsonElement? Get(string name) =>
        body.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    private static ApiErrorException Error(string param, string message, string? code = null) =>
        new(ApiError.Invalid(param, message, code));
}
