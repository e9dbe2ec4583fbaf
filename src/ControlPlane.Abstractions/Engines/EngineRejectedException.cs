namespace ControlPlane.Engines;

/// <summary>An engine refused a request that it can never run (too long for its KV capacity, say).</summary>
public sealed class EngineRejectedException : Exception
{
    public EngineRejectedException() { }

    public EngineRejectedException(string message) : base(message) { }

    public EngineRejectedException(string message, Exception inner) : base(message, inner) { }
}
