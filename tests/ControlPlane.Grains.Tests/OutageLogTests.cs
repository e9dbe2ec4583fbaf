using ControlPlane.Grains.Requests;
using Microsoft.Extensions.Logging;

namespace ControlPlane.Grains.Tests;

public class OutageLogTests
{
    private sealed class Capture : ILogger
    {
        public List<string> Lines { get; } = [];
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Add(formatter(state, exception));
    }

    [Fact]
    public void AnOutageOfManyFailures_IsTwoLines_ItsStartAndItsEndWithTheCount()
    {
        var logger = new Capture();
        var outage = new OutageLog(logger, "writing request state", TimeProvider.System);
        outage.Succeeded();
        for (var i = 0; i < 17_000; i++)
            outage.Failed(new TimeoutException("redis down"));
        Assert.Equal(17_000, outage.Failures);
        outage.Succeeded();
        outage.Succeeded();
        Assert.Equal(2, logger.Lines.Count);
        Assert.Contains("writing request state failing", logger.Lines[0], StringComparison.Ordinal);
        Assert.Contains("17000 failures", logger.Lines[1], StringComparison.Ordinal);
        // A second outage is logged again.
        outage.Failed(new TimeoutException("again"));
        Assert.Equal(3, logger.Lines.Count);
    }
}
