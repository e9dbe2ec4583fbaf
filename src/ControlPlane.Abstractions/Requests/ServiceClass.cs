namespace ControlPlane.Requests;

/// <summary>The service class of a request: which work is capped or shed first under pressure.</summary>
[GenerateSerializer]
public enum ServiceClass
{
    /// <summary>Latency-critical traffic (OpenAI <c>service_tier: priority</c>).</summary>
    Interactive,

    /// <summary>The default class.</summary>
    Standard,

    /// <summary>Throughput traffic that tolerates delay (OpenAI <c>service_tier: flex</c>).</summary>
    Batch,
}
