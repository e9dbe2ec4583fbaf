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

    /// <summary>
    /// The model's priority classes to send (<c>priority_class</c>) and each one's share of the requests; empty: none sent.
    /// Each request's class is drawn once from <see cref="ClassSeed"/>, so a replay is repeatable.
    /// </summary>
    public IReadOnlyList<(string Name, double Weight)> PriorityClasses { get; init; } = [];
    public int ClassSeed { get; init; } = 1;

    /// <summary>Parses <c>NAME=WEIGHT,NAME=WEIGHT</c> (a bare NAME weighs 1).</summary>
    public static IReadOnlyList<(string Name, double Weight)> ParseClasses(string? spec)
    {
        if (string.IsNullOrWhiteSpace(spec))
            return [];
        var classes = new List<(string, double)>();
        foreach (var part in spec.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var pair = part.Split('=', 2, StringSplitOptions.TrimEntries);
            var weight = 1.0;
            if (pair[0].Length == 0 || (pair.Length == 2 && (!double.TryParse(pair[1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out weight)
                || !(weight > 0) || double.IsInfinity(weight))))
                throw new ArgumentException($"--priority-classes '{spec}': each entry must be NAME or NAME=WEIGHT with a positive weight (got '{part}')");
            if (classes.Any(c => c.Item1 == pair[0]))
                throw new ArgumentException($"--priority-classes '{spec}': '{pair[0]}' is given twice");
            classes.Add((pair[0], weight));
        }
        return classes;
    }

    /// <summary>Each of <paramref name="count"/> requests' class (null for all when no classes are set).</summary>
    public string?[] DrawClasses(int count)
    {
        var classes = new string?[count];
        if (PriorityClasses.Count == 0)
            return classes;
        var random = new Random(ClassSeed);
        var total = PriorityClasses.Sum(c => c.Weight);
        for (var i = 0; i < count; i++)
        {
            var x = random.NextDouble() * total;
            var k = 0;
            while (k < PriorityClasses.Count - 1 && (x -= PriorityClasses[k].Weight) >= 0)
                k++;
            classes[i] = PriorityClasses[k].Name;
        }
        return classes;
    }
}
