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
    /// only when the token's text is needed; <paramref name="flush"/> when the request ends, for text held back inside
    /// an incomplete character (it comes out with U+FFFD, as a whole decode gives it).
    /// </summary>
    public static (string Text, FinishReason Finish) Apply(SamplingParameters sampling, int token, int outputCount,
        IReadOnlyList<int> endOfSequence, StopStringMatcher stops, Func<string> decode, Func<string>? flush = null)
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
        if (finish == FinishReason.None)
            return (text, finish);
        if (!stops.Stopped && flush is not null)
            text += stops.Append(flush());
        return (text + stops.Flush(), finish);
    }
}
