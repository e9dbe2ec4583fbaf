namespace ControlPlane.LoadGen.Replay;

/// <summary>Where and how to send a replay.</summary>
public sealed record ReplayOptions
{
    /// <summary>The server's base address; requests go to <c>/v1/completions</c> or <c>/v1/chat/completions</c> under it.</summary>
    public required Uri Endpoint { get; init; }
    public required string Model { get; init; }

    /// <summary><c>completions</c> (prompt lengths exact) or <c>chat</c> (the server's chat template adds its own tokens).</summary>
    public string Api { get; init; } = "completions";
    public string? ApiKey { get; init; }
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Asks the server to ignore end-of-sequence, so each answer has the trace's output length (vLLM and ours honour it).</summary>
    public bool IgnoreEos { get; init; } = true;
}
