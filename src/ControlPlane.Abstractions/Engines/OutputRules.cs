using ControlPlane.Requests;

namespace ControlPlane.Engines;

/// <summary>What every engine does with a request's new token, so that all engines end requests alike.</summary>
public static class OutputRules
{
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

    /// <summary>The order in which waiting requests are admitted: service class, then higher priority, then arrival.</summary>
    public static int CompareWaiting(RequestSpec x, long xArrival, RequestSpec y, long yArrival)
    {
        var c = x.ServiceClass.CompareTo(y.ServiceClass);
        if (c != 0)
            return c;
        c = y.Priority.CompareTo(x.Priority);
        return c != 0 ? c : xArrival.CompareTo(yArrival);
    }

    /// <summary>A request's own random source: from its seed (reproducible), else drawn from <paramref name="shared"/>.</summary>
    public static Random RandomFor(RequestSpec request, Random shared) =>
        request.Sampling.Seed is { } seed ? new Random(unchecked((int)seed ^ (int)(seed >> 32))) : new Random(shared.Next());
}
