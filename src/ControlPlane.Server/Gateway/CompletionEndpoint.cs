using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using ControlPlane.Requests;
using ControlPlane.Server.Configuration;
using ControlPlane.Server.Gateway.Tenants;
using ControlPlane.Server.Metrics;

namespace ControlPlane.Server.Gateway;

/// <summary>
/// <c>POST /v1/completions</c> and <c>POST /v1/chat/completions</c>: parse, start, then either stream
/// server-sent events (one per engine step) ending in <c>data: [DONE]</c>, or answer once with the whole text.
/// </summary>
public sealed class CompletionEndpoint(RequestExecutor executor, TenantDirectory tenants, Hosting.GracefulShutdown shutdown, GatewayMetrics metrics, ControlPlaneConfig config, TimeProvider time, ILogger<CompletionEndpoint> logger)
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    public async Task HandleAsync(HttpContext context, CompletionKind kind)
    {
        var received = time.GetTimestamp();
        var aborted = context.RequestAborted;
        RunningRequest running;
        CompletionRequest request;
        try
        {
            if (shutdown.Stopping)
            {
                context.Response.Headers.Connection = "close";
                throw new ApiErrorException(ApiError.Unavailable("This gateway is shutting down; retry, and another will take the request."));
            }
            var tenant = tenants.Authenticate(context.Request);
            request = CompletionRequestParser.Parse(kind, await ReadBodyAsync(context, config.Gateway.MaxRequestBodyBytes, aborted),
                new InputLimits(config.Gateway.MaxPromptChars, config.Gateway.MaxFieldChars));
            running = await executor.StartAsync(request, tenant, aborted);
        }
        catch (ApiErrorException ex)
        {
            if (ex.Error.Status is StatusCodes.Status400BadRequest or StatusCodes.Status413PayloadTooLarge)
                metrics.Outcome("", "invalid");
            await WriteErrorAsync(context.Response, ex.Error, config.Gateway.RetryAfterSeconds);
            return;
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            return;
        }

        var created = time.GetUtcNow().ToUnixTimeSeconds();
        foreach (var (name, value) in running.RateLimitHeaders)
            context.Response.Headers[name] = value;
        try
        {
            if (request.Stream)
                await StreamAsync(context.Response, request, running, created, aborted);
            else
                await AnswerAsync(context.Response, request, running, created, () => time.GetElapsedTime(received), aborted);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            await running.CancelAsync();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException && aborted.IsCancellationRequested)
        {
            await running.CancelAsync();
        }
        catch (Exception ex)
        {
            GatewayLog.RequestFailed(logger, ex, running.Spec.RequestId);
            await running.CancelAsync();
            throw;
        }
        finally
        {
            await running.EndAsync();
        }
    }

    private static async Task StreamAsync(HttpResponse response, CompletionRequest request, RunningRequest running, long created, CancellationToken aborted)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        response.Headers["X-Request-Id"] = running.Spec.RequestId;
        await response.StartAsync(aborted);
        var buffer = new ArrayBufferWriter<byte>(512);
        await using var json = new Utf8JsonWriter(buffer);
        var first = true;
        await foreach (var chunk in running.Stream.Reader.ReadAllAsync(aborted))
        {
            running.Observe(chunk);
            buffer.ResetWrittenCount();
            json.Reset(buffer);
            if (chunk.FinishReason == FinishReason.Error)
            {
                buffer.Write(DataPrefix);
                ApiError.Server(chunk.Error ?? "the engine failed").WriteBody(json);
            }
            else
            {
                buffer.Write(DataPrefix);
                OpenAiResponses.WriteChunk(json, request.Kind, running.Spec.RequestId, created, running.Spec.Model, chunk.Text, chunk.FinishReason, first, running.Spec.ServiceClass);
                first = false;
            }
            await json.FlushAsync(aborted);
            buffer.Write(EventEnd);
            if (chunk.FinishReason != FinishReason.None && request.IncludeUsage && running.Usage is { } usage)
            {
                buffer.Write(DataPrefix);
                json.Reset(buffer);
                OpenAiResponses.WriteUsageChunk(json, request.Kind, running.Spec.RequestId, created, running.Spec.Model, usage, running.Spec.ServiceClass);
                await json.FlushAsync(aborted);
                buffer.Write(EventEnd);
            }
            await response.Body.WriteAsync(buffer.WrittenMemory, aborted);
            await response.Body.FlushAsync(aborted);
        }
        await response.Body.WriteAsync(Done, aborted);
        await response.Body.FlushAsync(aborted);
    }

    private static async Task AnswerAsync(HttpResponse response, CompletionRequest request, RunningRequest running, long created, Func<TimeSpan> sinceReceived, CancellationToken aborted)
    {
        var text = new StringBuilder();
        var finish = FinishReason.None;
        string? error = null;
        await foreach (var chunk in running.Stream.Reader.ReadAllAsync(aborted))
        {
            running.Observe(chunk);
            text.Append(chunk.Text);
            finish = chunk.FinishReason;
            error = chunk.Error;
        }
        if (finish is FinishReason.Error or FinishReason.Aborted)
        {
            await WriteErrorAsync(response, ApiError.Server(error ?? "the request was stopped by its instance"), 0);
            return;
        }
        var buffer = new ArrayBufferWriter<byte>(1024);
        await using (var json = new Utf8JsonWriter(buffer))
            OpenAiResponses.WriteCompletion(json, request.Kind, running.Spec.RequestId, created, running.Spec.Model, text.ToString(), finish, running.Usage!, running.Spec.ServiceClass);
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json";
        response.ContentLength = buffer.WrittenCount;
        response.Headers["X-Request-Id"] = running.Spec.RequestId;
        // engine: from admission on the instance to the last token; gateway: from the request's arrival to this answer.
        response.Headers["Server-Timing"] = string.Create(CultureInfo.InvariantCulture,
            $"engine;dur={running.EngineTime.TotalMilliseconds:0.###}, gateway;dur={sinceReceived().TotalMilliseconds:0.###}");
        await response.Body.WriteAsync(buffer.WrittenMemory, aborted);
        await response.Body.FlushAsync(aborted);
    }

    /// <summary>
    /// Parses the body as JSON within <paramref name="limit"/> bytes: a declared length above it is refused (413) before a
    /// byte is read, a chunked body as soon as it passes it; a body that is not JSON is 400. The power endpoint reads so too.
    /// </summary>
    internal static async Task<JsonElement> ReadBodyAsync(HttpContext context, long limit, CancellationToken aborted)
    {
        var request = context.Request;
        if (request.ContentLength > limit)
            throw new ApiErrorException(ApiError.TooLarge(limit));
        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } size)
            size.MaxRequestBodySize = limit;
        try
        {
            using var document = await JsonDocument.ParseAsync(request.Body, default, aborted);
            return document.RootElement.Clone();
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new ApiErrorException(ApiError.TooLarge(limit));
        }
        catch (JsonException ex)
        {
            throw new ApiErrorException(ApiError.Invalid(null,
                $"We could not parse the JSON body of your request: {ex.Message} (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine}).", "invalid_json"));
        }
    }

    public static async Task WriteErrorAsync(HttpResponse response, ApiError error, int retryAfterSeconds)
    {
        if (response.HasStarted)
            return;
        response.StatusCode = error.Status;
        response.ContentType = "application/json";
        foreach (var (name, value) in error.Headers)
            response.Headers[name] = value;
        if (error.Status == StatusCodes.Status429TooManyRequests || error.Status == StatusCodes.Status503ServiceUnavailable)
        {
            var seconds = error.RetryAfter is { } wait ? (int)Math.Ceiling(wait.TotalSeconds) : retryAfterSeconds;
            response.Headers.RetryAfter = Math.Max(1, seconds).ToString(CultureInfo.InvariantCulture);
        }
        var buffer = new ArrayBufferWriter<byte>(256);
        await using (var json = new Utf8JsonWriter(buffer))
            error.WriteBody(json);
        await response.Body.WriteAsync(buffer.WrittenMemory);
    }
}
