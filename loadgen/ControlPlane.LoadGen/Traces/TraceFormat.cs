namespace ControlPlane.LoadGen.Traces;

/// <summary>The trace formats the load generator reads.</summary>
public enum TraceFormat
{
    /// <summary>Azure LLM inference traces, 2023 and 2024: <c>TIMESTAMP,ContextTokens,GeneratedTokens</c>.</summary>
    Azure,

    /// <summary>BurstGPT: <c>Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type</c>.</summary>
    BurstGpt,

    /// <summary>Mooncake FAST'25: JSONL with <c>timestamp</c> (ms), <c>input_length</c>, <c>output_length</c>, <c>hash_ids</c>.</summary>
    Mooncake,
}
