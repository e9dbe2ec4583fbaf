namespace ControlPlane.LoadGen.Tests;

/// <summary>Paths of the traces bundled in the repository.</summary>
internal static class Bundled
{
    private static string Root([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "loadgen", "traces"));

    public static string AzureConversation => Path.Combine(Root(), "azure-llm-2023", "AzureLLMInferenceTrace_conv.csv");
    public static string AzureCode => Path.Combine(Root(), "azure-llm-2023", "AzureLLMInferenceTrace_code.csv");
    public static string Mooncake => Path.Combine(Root(), "mooncake-fast25", "conversation_trace_first1000.jsonl");
    public static string BurstGpt => Path.Combine(Root(), "burstgpt-sample", "BurstGPT_sample.csv");
}
