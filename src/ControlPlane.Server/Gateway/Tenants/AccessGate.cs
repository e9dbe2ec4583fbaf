namespace ControlPlane.Server.Gateway.Tenants;

/// <summary>
/// Who may reach what, before any endpoint runs: <c>/v1</c> needs a tenant (a valid key, or none in Open mode);
/// <c>/admin</c> needs the admin credential (<see cref="TenantDirectory.AuthorizeAdmin"/>), and every admin call is
/// logged with its caller; the read-only status page is also open to loopback callers (<c>kubectl port-forward</c>).
/// </summary>
public static partial class AccessGate
{
    public static void Use(WebApplication app)
    {
        var tenants = app.Services.GetRequiredService<TenantDirectory>();
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("ControlPlane.Admin");
        app.Use(async (context, next) =>
        {
            var path = context.Request.Path;
            if (path.StartsWithSegments("/admin") || path.StartsWithSegments("/status") || path.StartsWithSegments("/status.json"))
            {
                var (allowed, status, caller, reason) = tenants.AuthorizeAdmin(context);
                var readOnly = !path.StartsWithSegments("/admin") && HttpMethods.IsGet(context.Request.Method);
                if (!allowed && readOnly && context.Connection.RemoteIpAddress is { } remote && System.Net.IPAddress.IsLoopback(remote)
                    && context.Request.Headers.Origin.Count == 0)
                {
                    (allowed, caller) = (true, $"loopback {remote}");
                }
                if (!allowed)
                {
                    AdminRefused(logger, context.Request.Method, path, caller, reason);
                    await CompletionEndpoint.WriteErrorAsync(context.Response, new ApiError(status, $"Admin access refused: {reason}.",
                        "invalid_request_error", null, status == StatusCodes.Status401Unauthorized ? "invalid_api_key" : "admin_only"), 0);
                    return;
                }
                await next(context);
                if (!readOnly && !HttpMethods.IsGet(context.Request.Method) || path.StartsWithSegments("/admin/drain"))
                    AdminAction(logger, context.Request.Method, path, caller, context.Response.StatusCode);
                return;
            }
            if (path.StartsWithSegments("/v1/models"))
            {
                try
                {
                    tenants.Authenticate(context.Request);
                }
                catch (ApiErrorException ex)
                {
                    await CompletionEndpoint.WriteErrorAsync(context.Response, ex.Error, 0);
                    return;
                }
            }
            await next(context);
        });
    }

    [LoggerMessage(EventId = 60, Level = LogLevel.Information, Message = "admin {Method} {Path} by {Caller}: {Status}")]
    private static partial void AdminAction(ILogger logger, string method, string path, string caller, int status);

    [LoggerMessage(EventId = 61, Level = LogLevel.Warning, Message = "admin {Method} {Path} refused for {Caller}: {Reason}")]
    private static partial void AdminRefused(ILogger logger, string method, string path, string caller, string reason);
}
