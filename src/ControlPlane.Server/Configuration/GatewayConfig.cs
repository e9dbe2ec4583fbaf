namespace ControlPlane.Server.Configuration;

/// <summary><c>ControlPlane:Gateway</c>: limits of the OpenAI-compatible front door.</summary>
public sealed record GatewayConfig
{
    /// <summary>Requests in flight on this gateway beyond which new ones get 429.</summary>
    public int MaxInFlightRequests { get; init; } = 8192;

    /// <summary><c>max_tokens</c> when a request gives none (capped by what the context leaves).</summary>
    public int DefaultMaxTokens { get; init; } = 1024;

    /// <summary>How many instances a request may try when instances refuse it.</summary>
    public int DispatchAttempts { get; init; } = 3;

    /// <summary>Seconds a client is told to wait after a 429.</summary>
    public int RetryAfterSeconds { get; init; } = 1;

    /// <summary>
    /// How long a request waits at the gateway when its model has no ready instance (a pool scaling from zero, or
    /// every instance restarting) before it gets a 503 with <c>Retry-After</c>; zero answers 503 at once.
    /// </summary>
    public TimeSpan HoldWhenNoInstance { get; init; } = TimeSpan.FromSeconds(60);
}
