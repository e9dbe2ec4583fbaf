using ControlPlane.Operator.Reconciliation;

namespace ControlPlane.Operator.Tests;

/// <summary>
/// The control plane's side of a drain, as its admin endpoints answer: records which pods were drained or resumed,
/// and says how many requests still run on them (<see cref="Running"/>, per pod; the scheduler migrates them away
/// between two passes in the real system, the test does it by hand).
/// </summary>
internal sealed class RecordingDrainClient : IDrainClient
{
    public List<(string Namespace, string Model, string[] Pods)> Drained { get; } = [];
    public List<string> Resumed { get; } = [];
    public Dictionary<string, int> Running { get; } = new(StringComparer.Ordinal);

    public Task<int> DrainAsync(string @namespace, string model, IReadOnlyList<string> pods, CancellationToken cancellationToken)
    {
        Drained.Add((@namespace, model, [.. pods]));
        return Task.FromResult(pods.Sum(p => Running.GetValueOrDefault(p)));
    }

    public Task ResumeAsync(string @namespace, IReadOnlyList<string> pods, CancellationToken cancellationToken)
    {
        Resumed.AddRange(pods);
        return Task.CompletedTask;
    }
}
