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

    /// <summary>
    /// The largest request body accepted, in bytes: a larger one gets 413 at once (from its Content-Length, or as soon
    /// as a chunked body passes it), before any of it is parsed or tokenized.
    /// </summary>
    public long MaxRequestBodyBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>
    /// The most characters a prompt may hold (a completion's <c>prompt</c>, or all of a chat's message contents
    /// together), checked before tokenizing: 400 beyond it.
    /// </summary>
    public int MaxPromptChars { get; init; } = 1_000_000;

    /// <summary>The most characters any other string field may hold (model, role, a stop sequence, service_tier).</summary>
    public int MaxFieldChars { get; init; } = 1024;

    /// <summary>
    /// On SIGTERM, how long running streams may go on before each is ended with an error event and <c>[DONE]</c>; new
    /// requests meanwhile get 503. The pod's <c>terminationGracePeriodSeconds</c> must exceed it (the chart adds 15 s).
    /// </summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A running request whose stream takes in no chunk for this long is looked for on its instance: one waiting its turn
    /// is left alone; one that instance no longer runs, or whose chunks it sent never came, is resumed (on the second look,
    /// half this later, if nothing changed). Zero turns the check off.
    /// </summary>
    public TimeSpan StallAfter { get; init; } = TimeSpan.FromSeconds(10);
}
