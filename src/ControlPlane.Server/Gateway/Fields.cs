using ControlPlane.Models.Chat;
using System.Text.Json;
using ControlPlane.Requests;

namespace ControlPlane.Server.Gateway;

/// <summary>How long a request's strings may be: a prompt (all of a chat's contents together) and any other field.</summary>
internal readonly record struct InputLimits(int MaxPromptChars, int MaxFieldChars)
{
    public static InputLimits Default { get; } = new(1_000_000, 1024);
}

/// <summary>
/// Typed, range-checked reads of a request's JSON fields; each failure names the field. Every string is checked for
/// length (before anything tokenizes it) and for valid UTF-8 without lone surrogates; an error quotes at most a short
/// prefix of the bad value.
/// </summary>
internal readonly struct Fields(JsonElement body, InputLimits limits, string prefix = "")
{
    public string RequiredString(string name)
    {
        if (!body.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
            throw Error(prefix + name, $"you must provide a '{prefix}{name}' parameter.", "missing_required_parameter");
        var text = v.ValueKind == JsonValueKind.String ? Text(v, prefix + name, limits.MaxFieldChars) : null;
        if (string.IsNullOrWhiteSpace(text))
            throw Error(prefix + name, $"'{prefix}{name}' must be a non-empty string.");
        return text;
    }

    /// <summary>
    /// A JSON string's value, refused (400 naming <paramref name="param"/>) when it is longer than <paramref name="max"/>
    /// characters or not valid text: invalid UTF-8 bytes, or an escaped lone surrogate.
    /// </summary>
    public static string Text(JsonElement value, string param, int max)
    {
        // The encoded length bounds the decoded one from above (an escape is longer than its character): a cheap first test.
        if (System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(value).Length - 2 > max * 6)
            throw TooLong(param, max);
        string text;
        try
        {
            text = value.GetString()!;
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException) // ArgumentException: DecoderFallbackException on raw bytes
        {
            throw Error(param, $"'{param}' is not valid UTF-8 text: it holds invalid bytes or an unpaired surrogate escape.", "invalid_encoding");
        }
        if (text.Length > max)
            throw TooLong(param, max);
        return text;
    }

    /// <summary>At most <paramref name="max"/> characters of a client's value, for an error message.</summary>
    public static string Quote(string value, int max = 64) => value.Length <= max ? value : string.Concat(value.AsSpan(0, max), "…");

    private static ApiErrorException TooLong(string param, int max) =>
        Error(param, $"'{param}' is longer than the {max} characters this server accepts.", "string_above_max_length");

    /// <summary>An optional non-empty string; null when absent or null.</summary>
    public string? OptionalString(string name)
    {
        if (Get(name) is not { } v)
            return null;
        var text = v.ValueKind == JsonValueKind.String ? Text(v, prefix + name, limits.MaxFieldChars) : null;
        if (string.IsNullOrWhiteSpace(text))
            throw Error(prefix + name, $"'{prefix}{name}' must be a non-empty string.");
        return text;
    }

    /// <summary>Whether the body gives <paramref name="name"/> a value other than null.</summary>
    public bool Has(string name) => Get(name) is not null;

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
                return Text(s, "stop", limits.MaxFieldChars) is { Length: > 0 } one ? [one] : throw Error("stop", "'stop' must not be empty.");
            case { ValueKind: JsonValueKind.Array } a:
                if (a.GetArrayLength() > 4)
                    throw Error("stop", $"'stop' may hold at most 4 sequences (got {a.GetArrayLength()}).", "invalid_value");
                var stops = new List<string>();
                foreach (var item in a.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String || Text(item, "stop", limits.MaxFieldChars) is not { Length: > 0 } stop)
                        throw Error("stop", "'stop' must be a string or an array of non-empty strings.");
                    stops.Add(stop);
                }
                return stops;
            default:
                throw Error("stop", "'stop' must be a string or an array of strings.");
        }
    }

    /// <summary><c>service_tier</c> as a class; null when the request names none (the tenant's default applies).</summary>
    public ServiceClass? ServiceTier() => Get("service_tier") switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } s => Text(s, "service_tier", limits.MaxFieldChars) switch
        {
            "auto" or "default" or "scale" => ServiceClass.Standard,
            "priority" => ServiceClass.Interactive,
            "flex" => ServiceClass.Batch,
            var other => throw Error("service_tier", $"'service_tier' must be one of auto, default, flex, priority (got '{Quote(other)}').", "invalid_value"),
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
        var left = limits.MaxPromptChars;
        foreach (var m in v.EnumerateArray())
        {
            var at = $"messages[{i++}]";
            if (m.ValueKind != JsonValueKind.Object)
                throw Error(at, $"'{at}' must be an object.");
            if (!m.TryGetProperty("role", out var role) || role.ValueKind == JsonValueKind.Null)
                throw Error($"{at}.role", $"'{at}.role' is required.", "missing_required_parameter");
            if (role.ValueKind != JsonValueKind.String)
                throw Error($"{at}.role", $"'{at}.role' must be a string.");
            var roleName = Text(role, $"{at}.role", limits.MaxFieldChars);
            if (roleName is not ("system" or "developer" or "user" or "assistant" or "tool"))
                throw Error($"{at}.role", $"'{at}.role' must be one of system, developer, user, assistant, tool (got '{Quote(roleName)}').", "invalid_value");
            var content = Content(m, at, roleName, left);
            left -= content.Length;
            messages.Add(new ChatMessage(roleName == "developer" ? "system" : roleName, content));
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
                return request with { PromptText = PromptText(s, "prompt", limits.MaxPromptChars) };
            case { ValueKind: JsonValueKind.Array } a when a.GetArrayLength() == 1 && a[0].ValueKind == JsonValueKind.String:
                return request with { PromptText = PromptText(a[0], "prompt", limits.MaxPromptChars) };
            case { ValueKind: JsonValueKind.Array } a when a.GetArrayLength() > 0 && a[0].ValueKind == JsonValueKind.Number:
                return request with { PromptTokenIds = IntArray("prompt") };
            case { ValueKind: JsonValueKind.Array } a when a.GetArrayLength() > 1:
                throw Error("prompt", "a batch of several prompts is not supported: send one prompt per request.", "unsupported_value");
            default:
                throw Error("prompt", "'prompt' must be a string, an array of one string, or an array of token ids.");
        }
    }

    /// <summary>
    /// A message's content as text, from a string or text parts. Only an assistant turn may leave it out (OpenAI allows
    /// that beside tool calls); any other role without content is refused.
    /// </summary>
    private string Content(JsonElement message, string at, string role, int left)
    {
        if (!message.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null)
        {
            return role == "assistant"
                ? ""
                : throw Error($"{at}.content", $"'{at}.content' is required for a {role} message.", "missing_required_parameter");
        }
        if (content.ValueKind == JsonValueKind.String)
            return PromptText(content, $"{at}.content", left);
        if (content.ValueKind != JsonValueKind.Array)
            throw Error($"{at}.content", $"'{at}.content' must be a string or an array of text parts.");
        var text = new System.Text.StringBuilder();
        var j = 0;
        foreach (var part in content.EnumerateArray())
        {
            var partAt = $"{at}.content[{j++}]";
            if (part.ValueKind != JsonValueKind.Object)
                throw Error(partAt, $"'{partAt}' must be an object {{\"type\": \"text\", \"text\": ...}}.");
            if (!part.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
                throw Error($"{partAt}.type", $"'{partAt}.type' must be a string.");
            var kind = Text(type, $"{partAt}.type", 64);
            if (kind != "text")
                throw Error($"{partAt}.type", $"'{partAt}.type' '{Quote(kind)}' is not supported: only text parts are.", "unsupported_value");
            if (!part.TryGetProperty("text", out var t) || t.ValueKind != JsonValueKind.String)
                throw Error($"{partAt}.text", $"'{partAt}.text' must be a string.");
            text.Append(PromptText(t, $"{partAt}.text", left - text.Length));
        }
        return text.ToString();
    }

    /// <summary>Prompt text, within what is <paramref name="left"/> of the prompt's characters.</summary>
    private string PromptText(JsonElement value, string param, int left)
    {
        try
        {
            return Text(value, param, Math.Max(0, left));
        }
        catch (ApiErrorException ex) when (ex.Error.Code == "string_above_max_length")
        {
            throw Error(param, $"The prompt is longer than the {limits.MaxPromptChars} characters this server accepts (all message contents together; passed at '{param}').", "string_above_max_length");
        }
    }

    private JsonElement? Get(string name) =>
        body.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    private static ApiErrorException Error(string param, string message, string? code = null) =>
        new(ApiError.Invalid(param, message, code));
}
