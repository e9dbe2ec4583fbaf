using ControlPlane.Requests;

namespace ControlPlane.Engine.Core.Output;

/// <summary>What every engine does with a request's new token, so that all engines end requests alike.</summary>
public static class OutputRules
{
    /// <summary>Greedy rows take the argmax and draw nothing from the request's random stream.</summary>
    public static bool IsGreedy(SamplingParameters p) => p.Temperature <= 0 || p.TopK == 1;

    /// <summary>
    /// Applies stop token ids, end of sequence (unless ignored), stop strings and max tokens to a new token
    /// (already appended, <paramref name="outputCount"/> counting it). Returns the text to emit and why the
    /// request ends, <see cref="FinishReason.None"/> when it goes on. <paramref name="decode"/> is called
    /// only when the token's text is needed.
    /// </summary>
    public static (string Text, FinishReason Finish) Apply(SamplingParameters sampling, int token, int outputCount,
        IReadOnlyList<int> endOfSequence, StopStringMatcher stops, Func<string> decode)
    {
        string text;
        FinishReason finish;
        if (sampling.StopTokenIds.Contains(token) || (!sampling.IgnoreEndOfSequence && endOfSequence.Contains(token)))
        {
            text = "";
            finish = FinishReason.Stop;
        }
        else
        {
            text = stops.Append(decode());
            finish = stops.Stopped ? FinishReason.Stop : outputCount >= sampling.MaxTokens ? FinishReason.Length : FinishReason.None;
        }
        return finish == FinishReason.None ? (text, finish) : (text + stops.Flush(), finish);
    }
}
