using System.Text.Json;
using ControlPlane.Requests;

namespace ControlPlane.Server.Gateway;

/// <summary>
/// Reads an OpenAI completion or chat body and checks every field it uses, so a bad request is answered
/// with a 400 naming the field before it costs the cluster anything. Unknown fields are ignored, as most
/// OpenAI-compatible servers do; known but unsupported ones are refused rather than silently dropped.
/// </summary>
public static class CompletionRequestParser
{
    public static CompletionRequest Parse(CompletionKind kind, JsonElement body) => Parse(kind, body, InputLimits.Default);

    internal static CompletionRequest Parse(CompletionKind kind, JsonElement body, InputLimits limits)
    {
        if (body.ValueKind != JsonValueKind.Object)
            throw new ApiErrorException(ApiError.Invalid(null, "The request body must be a JSON object."));
        var fields = new Fields(body, limits);
        var model = fields.RequiredString("model");
        var stream = fields.Bool("stream") ?? false;
        var includeUsage = false;
        if (fields.Object("stream_options") is { } options)
        {
            if (!stream)
                throw new ApiErrorException(ApiError.Invalid("stream_options", "stream_options is only allowed when stream is true."));
            includeUsage = new Fields(options, limits, "stream_options.").Bool("include_usage") ?? false;
        }
        if (fields.Int("n", 1, 128) is > 1)
            throw new ApiErrorException(ApiError.Invalid("n", "n > 1 is not supported: ask for each completion in its own request.", "unsupported_value"));
        fields.RejectUnless("logprobs", v => v.ValueKind is JsonValueKind.Null or JsonValueKind.False, "logprobs are not supported.");
        fields.RejectUnless("echo", v => v.ValueKind is JsonValueKind.Null or JsonValueKind.False, "echo is not supported.");
        fields.RejectUnless("best_of", v => v.ValueKind is JsonValueKind.Null || (v.ValueKind == JsonValueKind.Number && v.GetDouble() == 1), "best_of > 1 is not supported.");
        fields.RejectUnless("tools", v => v.ValueKind is JsonValueKind.Null || (v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 0), "tools are not supported by this model.");
        RejectUnsupported(fields);
        foreach (var penalty in new[] { "presence_penalty", "frequency_penalty" })
            fields.RejectUnless(penalty, v => v.ValueKind is JsonValueKind.Null || (v.ValueKind == JsonValueKind.Number && v.GetDouble() == 0), $"{penalty} other than 0 is not supported.");

        int? maxTokens = fields.Int("max_completion_tokens", 1, int.MaxValue);
        var maxTokensParam = "max_completion_tokens";
        if (maxTokens is null)
        {
            maxTokens = fields.Int("max_tokens", 1, int.MaxValue);
            maxTokensParam = "max_tokens";
        }
        var sampling = new SamplingParameters
        {
            Temperature = (float)(fields.Number("temperature", 0, 2) ?? 1),
            TopP = (float)(fields.Number("top_p", 0, 1, minExclusive: true) ?? 1),
            TopK = fields.Int("top_k", -1, 1_000_000) is { } k and > 0 ? k : 0,
            Seed = fields.Long("seed"),
            StopStrings = fields.Stop(),
            StopTokenIds = fields.IntArray("stop_token_ids") ?? [],
            IgnoreEndOfSequence = fields.Bool("ignore_eos") ?? false,
        };

        // A named class stands for service_tier and priority together: the model defines what it means, so a request that
        // gives either beside it is ambiguous and refused rather than half-applied.
        var priorityClass = fields.OptionalString("priority_class");
        if (priorityClass is not null && (fields.Has("service_tier") || fields.Has("priority")))
        {
            throw new ApiErrorException(ApiError.Invalid("priority_class",
                "'priority_class' sets the request's service tier and priority: give it or 'service_tier'/'priority', not both.", "invalid_value"));
        }
        var request = new CompletionRequest
        {
            Kind = kind,
            Model = model,
            Stream = stream,
            IncludeUsage = includeUsage,
            MaxTokens = maxTokens,
            MaxTokensParam = maxTokensParam,
            Sampling = sampling,
            ServiceClass = fields.ServiceTier(),
            Priority = fields.Int("priority", -1_000_000, 1_000_000) ?? 0,
            PriorityClass = priorityClass,
            TierOrPriorityGiven = fields.Has("service_tier") || fields.Has("priority"),
        };
        return kind == CompletionKind.Chat
            ? request with { Messages = fields.Messages() }
            : fields.Prompt(request);
    }

    /// <summary>
    /// Options this server does not carry out, refused by name unless given their no-op value, so that no client
    /// believes a constraint (a JSON format, a bias, a tool) was applied when it was not.
    /// </summary>
    private static void RejectUnsupported(Fields fields)
    {
        static bool IsNull(JsonElement v) => v.ValueKind == JsonValueKind.Null;
        static bool IsString(JsonElement v, string s) => v.ValueKind == JsonValueKind.String && v.ValueEquals(s);
        fields.RejectUnless("logit_bias", v => IsNull(v) || (v.ValueKind == JsonValueKind.Object && !v.EnumerateObject().Any()), "logit_bias is not supported.");
        fields.RejectUnless("response_format", v => IsNull(v) || (v.ValueKind == JsonValueKind.Object && v.TryGetProperty("type", out var t) && IsString(t, "text")),
            "response_format other than {\"type\": \"text\"} is not supported: structured output (json_object, json_schema) is not enforced by this server.");
        fields.RejectUnless("tool_choice", v => IsNull(v) || IsString(v, "none"), "tool_choice is not supported: this server does not call tools.");
        fields.RejectUnless("functions", v => IsNull(v) || (v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 0), "functions are not supported by this model.");
        fields.RejectUnless("function_call", v => IsNull(v) || IsString(v, "none"), "function_call is not supported: this server does not call functions.");
        fields.RejectUnless("suffix", v => IsNull(v) || IsString(v, ""), "suffix (insertion) is not supported.");
        fields.RejectUnless("top_logprobs", v => IsNull(v) || (v.ValueKind == JsonValueKind.Number && v.GetDouble() == 0), "top_logprobs are not supported.");
        fields.RejectUnless("modalities", v => IsNull(v) || (v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(m => IsString(m, "text"))), "only the text modality is supported.");
        foreach (var name in new[] { "audio", "prediction", "web_search_options" })
            fields.RejectUnless(name, IsNull, $"{name} is not supported.");
    }
}
