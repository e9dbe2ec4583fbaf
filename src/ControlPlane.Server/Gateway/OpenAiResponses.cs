using System.Text.Json;
using ControlPlane.Requests;

namespace ControlPlane.Server.Gateway;

/// <summary>Writes the OpenAI response shapes (completion, chat, their stream chunks, usage) straight to JSON.</summary>
public static class OpenAiResponses
{
    public static string? FinishReasonName(FinishReason reason) => reason switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        FinishReason.Aborted => "abort",
        FinishReason.Error => "error",
        _ => null,
    };

    /// <summary>One stream chunk; <paramref name="first"/> adds the assistant role to a chat delta.</summary>
    public static void WriteChunk(Utf8JsonWriter json, CompletionKind kind, string id, long created, string model, string text, FinishReason finish, bool first,
        ServiceClass serviceClass)
    {
        WriteHead(json, kind, id, created, model, stream: true, serviceClass);
        json.WriteStartArray("choices");
        json.WriteStartObject();
        json.WriteNumber("index", 0);
        if (kind == CompletionKind.Chat)
        {
            json.WriteStartObject("delta");
            if (first)
                json.WriteString("role", "assistant");
            if (text.Length > 0 || first)
                json.WriteString("content", text);
            json.WriteEndObject();
        }
        else
        {
            json.WriteString("text", text);
        }
        json.WriteNull("logprobs");
        json.WriteString("finish_reason", FinishReasonName(finish));
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>The usage chunk that ends a stream when <c>stream_options.include_usage</c> is set.</summary>
    public static void WriteUsageChunk(Utf8JsonWriter json, CompletionKind kind, string id, long created, string model, RequestUsage usage,
        ServiceClass serviceClass)
    {
        WriteHead(json, kind, id, created, model, stream: true, serviceClass);
        json.WriteStartArray("choices");
        json.WriteEndArray();
        WriteUsage(json, usage);
        json.WriteEndObject();
    }

    public static void WriteCompletion(Utf8JsonWriter json, CompletionKind kind, string id, long created, string model, string text, FinishReason finish, RequestUsage usage,
        ServiceClass serviceClass)
    {
        WriteHead(json, kind, id, created, model, stream: false, serviceClass);
        json.WriteStartArray("choices");
        json.WriteStartObject();
        json.WriteNumber("index", 0);
        if (kind == CompletionKind.Chat)
        {
            json.WriteStartObject("message");
            json.WriteString("role", "assistant");
            json.WriteString("content", text);
            json.WriteEndObject();
        }
        else
        {
            json.WriteString("text", text);
        }
        json.WriteNull("logprobs");
        json.WriteString("finish_reason", FinishReasonName(finish));
        json.WriteEndObject();
        json.WriteEndArray();
        WriteUsage(json, usage);
        json.WriteEndObject();
    }

    private static void WriteHead(Utf8JsonWriter json, CompletionKind kind, string id, long created, string model, bool stream, ServiceClass serviceClass)
    {
        json.WriteStartObject();
        json.WriteString("id", id);
        json.WriteString("object", (kind, stream) switch
        {
            (CompletionKind.Chat, true) => "chat.completion.chunk",
            (CompletionKind.Chat, false) => "chat.completion",
            _ => "text_completion",
        });
        json.WriteNumber("created", created);
        json.WriteString("model", model);
        // The tier the request was served in (OpenAI's chat objects carry it): what it asked for, or its tenant's default.
        if (kind == CompletionKind.Chat)
            json.WriteString("service_tier", Tenants.TenantDirectory.TierName(serviceClass));
    }

    private static void WriteUsage(Utf8JsonWriter json, RequestUsage usage)
    {
        json.WriteStartObject("usage");
        json.WriteNumber("prompt_tokens", usage.PromptTokens);
        json.WriteNumber("completion_tokens", usage.CompletionTokens);
        json.WriteNumber("total_tokens", usage.PromptTokens + usage.CompletionTokens);
        json.WriteStartObject("prompt_tokens_details");
        json.WriteNumber("cached_tokens", usage.CachedPromptTokens);
        json.WriteEndObject();
        // Not OpenAI's: the GPU energy the request took (each engine step's energy shared by the tokens it computed),
        // where the engine knows its draw. Clients ignore fields they do not know.
        if (usage.EnergyJoules is { } joules)
            json.WriteNumber("energy_joules", Math.Round(joules, 4));
        json.WriteEndObject();
    }
}
