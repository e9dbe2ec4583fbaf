using System.Buffers;
using System.Text.Json;

namespace ControlPlane.Server.Gateway;

/// <summary>
/// Every error the host answers is OpenAI-shaped JSON, also those no endpoint writes itself: an unknown route (404), a
/// wrong method (405), a body over the limit (413), an unhandled exception (500, its details only in the log).
/// </summary>
public static class OpenAiErrors
{
    public static void Use(WebApplication app)
    {
        app.UseExceptionHandler(new ExceptionHandlerOptions
        {
            // A body read past Kestrel's limit surfaces as an exception with its own status.
            StatusCodeSelector = ex => ex switch
            {
                ApiErrorException api => api.Error.Status,
                BadHttpRequestException bad => bad.StatusCode,
                _ => StatusCodes.Status500InternalServerError,
            },
            ExceptionHandler = context =>
            {
                var error = context.Features.Get<Microsoft.AspNetCore.Diagnostics.IExceptionHandlerFeature>()?.Error;
                return WriteAsync(context.Response, error is ApiErrorException api
                    ? api.Error
                    : ApiError.ForStatus(context.Response.StatusCode, context.Request.Method, context.Request.Path));
            },
        });
        app.UseStatusCodePages(context =>
            WriteAsync(context.HttpContext.Response, ApiError.ForStatus(context.HttpContext.Response.StatusCode,
                context.HttpContext.Request.Method, context.HttpContext.Request.Path)));
    }

    private static async Task WriteAsync(HttpResponse response, ApiError error)
    {
        if (response.HasStarted)
            return;
        response.ContentType = "application/json";
        var buffer = new ArrayBufferWriter<byte>(256);
        await using (var json = new Utf8JsonWriter(buffer))
            error.WriteBody(json);
        await response.Body.WriteAsync(buffer.WrittenMemory);
    }
}
