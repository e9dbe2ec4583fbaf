using System.Text.Json;

namespace ControlPlane.Server.Gateway;

/// <summary>An OpenAI-style error: HTTP status, message, type, the parameter at fault and a code.</summary>
public sealed record ApiError(int Status, string Message, string Type, string? Param, string? Code)
{
    /// <summary>Headers the answer carries besides (<c>x-ratelimit-*</c>).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    /// <summary>When the client may retry (429, 503); the gateway's default when null.</summary>
    public TimeSpan? RetryAfter { get; init; }

    public static ApiError Invalid(string? param, string message, string? code = null) =>
        new(StatusCodes.Status400BadRequest, message, "invalid_request_error", param, code);

    public static ApiError ModelNotFound(string model) =>
        new(StatusCodes.Status404NotFound, $"The model '{Fields.Quote(model)}' does not exist or you do not have access to it.", "invalid_request_error", "model", "model_not_found");

    public static ApiError Overloaded(string message) =>
        new(StatusCodes.Status429TooManyRequests, message, "rate_limit_exceeded", null, "overloaded");

    public static ApiError Unavailable(string message) =>
        new(StatusCodes.Status503ServiceUnavailable, message, "server_error", null, "unavailable");

    public static ApiError TooLarge(long limit) =>
        new(StatusCodes.Status413PayloadTooLarge, $"The request body is larger than the {limit} bytes this server accepts.", "invalid_request_error", null, "request_too_large");

    /// <summary>The error a status code with no body of its own stands for (an unknown route, a wrong method, a limit).</summary>
    public static ApiError ForStatus(int status, string method, string path) => status switch
    {
        StatusCodes.Status404NotFound => new(status, $"Unknown request URL: {method} {Fields.Quote(path, 200)}.", "invalid_request_error", null, "unknown_url"),
        StatusCodes.Status405MethodNotAllowed => new(status, $"{method} is not allowed on {Fields.Quote(path, 200)}.", "invalid_request_error", null, "method_not_allowed"),
        StatusCodes.Status413PayloadTooLarge => new(status, "The request body is larger than this server accepts.", "invalid_request_error", null, "request_too_large"),
        StatusCodes.Status401Unauthorized => new(status, "You didn't provide a valid API key: pass it as 'Authorization: Bearer <key>'.", "invalid_request_error", null, "invalid_api_key"),
        >= 500 => new(status, "The server had an error while processing your request.", "server_error", null, null),
        _ => new(status, $"The request failed with HTTP status {status}.", "invalid_request_error", null, null),
    };

    public static ApiError Server(string message) =>
        new(StatusCodes.Status500InternalServerError, message, "server_error", null, null);

    /// <summary>The error as a minimal-API result (the same body as <see cref="WriteBody"/>).</summary>
    public IResult ToResult() =>
        Results.Json(new { error = new { message = Message, type = Type, param = Param, code = Code } }, statusCode: Status);

    public void WriteBody(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteStartObject("error");
        json.WriteString("message", Message);
        json.WriteString("type", Type);
        json.WriteString("param", Param);
        json.WriteString("code", Code);
        json.WriteEndObject();
        json.WriteEndObject();
    }
}
