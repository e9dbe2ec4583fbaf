using System.Globalization;
using ControlPlane.Engine.Core.Scheduling;

namespace ControlPlane.Engine.Core;

/// <summary>
/// One JSON line a step, appended to a file: its time, whether it ran as a graph, the decodes' context lengths and the
/// prefill chunks (length, offset), and, from a runner on a real clock, when it started (Unix milliseconds), so that
/// the host's time between steps shows. The TorchSharp runner and the simulated runner write the same lines, so a served
/// run's steps can be set beside the simulator's (`compare_steps.py`) or run again as fixed shapes (`bench steps`).
/// Engines of one process that name the same file share one writer (kept for the process's life, flushed every line):
/// lines are written whole, one at a time.
/// </summary>
public sealed class StepLog
{
    /// <summary>The environment variable that names the file when no option does.</summary>
    public const string Variable = "CONTROLPLANE_STEP_LOG";

    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, StreamWriter> Writers = new(StringComparer.Ordinal);
    private readonly StreamWriter _writer;

    private StepLog(StreamWriter writer) => _writer = writer;

    /// <summary>A log at <paramref name="path"/>, or at <see cref="Variable"/>'s path; null when neither names one.</summary>
    public static StepLog? Open(string? path = null)
    {
        path ??= Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrEmpty(path))
            return null;
        var full = Path.GetFullPath(path);
        lock (Gate)
        {
            if (!Writers.TryGetValue(full, out var writer))
                Writers[full] = writer = new StreamWriter(new FileStream(full, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
            return new StepLog(writer);
        }
    }

    public void Write(IReadOnlyList<ScheduledChunk> chunks, bool graph, TimeSpan elapsed, DateTimeOffset? started = null)
    {
        // A decode is one token after the prompt (position > 0); anything else is a prefill chunk at its offset.
        var decodes = string.Join(',', chunks.Where(c => c.Count == 1 && c.Start > 0).Select(c => (c.Start + 1).ToString(CultureInfo.InvariantCulture)));
        var prefill = string.Join(',', chunks.Where(c => !(c.Count == 1 && c.Start > 0)).Select(c => string.Create(CultureInfo.InvariantCulture, $"[{c.Count},{c.Start}]")));
        var at = started is { } t ? string.Create(CultureInfo.InvariantCulture, $"\"t\":{(t - DateTimeOffset.UnixEpoch).TotalMilliseconds:F3},") : "";
        var line = string.Create(CultureInfo.InvariantCulture,
            $"{{{at}\"ms\":{elapsed.TotalMilliseconds:F3},\"graph\":{(graph ? "true" : "false")},\"decodes\":[{decodes}],\"prefill\":[{prefill}]}}");
        lock (Gate)
            _writer.WriteLine(line);
    }
}
