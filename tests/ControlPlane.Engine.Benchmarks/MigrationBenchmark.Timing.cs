using System.Collections.Concurrent;
using System.Diagnostics;
using ControlPlane.Tokens;

namespace ControlPlane.Engine.Benchmarks;

/// <summary>Token arrival times, the clock every benchmark reads.</summary>
internal static partial class MigrationBenchmark
{
    /// <summary>Every chunk's arrival time (a monotonic timestamp, the same clock in every process) and the instance that sent it.</summary>
    internal sealed class TimingSink : ITokenSink
    {
        private readonly ConcurrentDictionary<string, ConcurrentQueue<(long At, string Instance)>> _chunks = new(StringComparer.Ordinal);

        public Task OnTokensAsync(TokenBatch batch)
        {
            var now = Stopwatch.GetTimestamp();
            foreach (var chunk in batch.Chunks)
            {
                if (chunk.Error is not null)
                    Console.Error.WriteLine($"request {chunk.RequestId} failed: {chunk.Error}");
                if (chunk.TokenIds.Length > 0)
                    _chunks.GetOrAdd(chunk.RequestId, _ => new()).Enqueue((now, batch.InstanceId));
            }
            return Task.CompletedTask;
        }

        public Task OnMovedAsync(RequestMove move) => Task.CompletedTask;

        public IReadOnlyList<(long At, string Instance)> Of(string requestId) =>
            _chunks.TryGetValue(requestId, out var queue) ? [.. queue] : [];

        public async Task WaitForTokensAsync(string requestId, int count, TimeSpan timeout)
        {
            var watch = Stopwatch.StartNew();
            while (Of(requestId).Count < count)
            {
                if (watch.Elapsed > timeout)
                    throw new TimeoutException($"request {requestId} produced {Of(requestId).Count} tokens in {timeout}");
                await Task.Delay(10);
            }
        }
    }
}

/// <summary>Warnings and errors to standard error: a benchmark's failed migration or handoff says why.</summary>
internal sealed class ConsoleErrorLogger(string name) : Microsoft.Extensions.Logging.ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => logLevel >= Microsoft.Extensions.Logging.LogLevel.Warning;

    public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception,
        Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
            Console.Error.WriteLine($"[{name}] {logLevel}: {formatter(state, exception)} {exception}");
    }
}
