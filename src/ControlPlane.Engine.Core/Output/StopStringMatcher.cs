using System.Text;

namespace ControlPlane.Engine.Core.Output;

/// <summary>
/// Applies stop strings to a request's text as it grows, the same way for every engine: text up to the first
/// stop string is emitted, the stop string and all after it are not, and a tail that could still become a
/// stop string is held back until the next token decides it.
/// </summary>
public sealed class StopStringMatcher(IReadOnlyList<string> stopStrings)
{
    private readonly StringBuilder _pending = new();

    public bool Stopped { get; private set; }

    /// <summary>Adds decoded text; returns what may be emitted now.</summary>
    public string Append(string delta)
    {
        if (Stopped)
            return "";
        if (stopStrings.Count == 0)
            return delta;
        _pending.Append(delta);
        var text = _pending.ToString();
        var cut = -1;
        foreach (var stop in stopStrings)
        {
            var at = text.IndexOf(stop, StringComparison.Ordinal);
            if (at >= 0 && (cut < 0 || at < cut))
                cut = at;
        }
        if (cut >= 0)
        {
            Stopped = true;
            _pending.Clear();
            return text[..cut];
        }
        var hold = 0;
        foreach (var stop in stopStrings)
        {
            for (var k = Math.Min(stop.Length - 1, text.Length); k > hold; k--)
            {
                if (text.AsSpan(text.Length - k).SequenceEqual(stop.AsSpan(0, k)))
                {
                    hold = k;
                    break;
                }
            }
        }
        _pending.Clear().Append(text, text.Length - hold, hold);
        return text[..^hold];
    }

    /// <summary>Releases held-back text when the request ends for another reason (length, stop token).</summary>
    public string Flush()
    {
        var rest = _pending.ToString();
        _pending.Clear();
        return Stopped ? "" : rest;
    }
}
