using System.CommandLine;
using ControlPlane.LoadGen;

var root = new RootCommand("ControlPlane load generator: replay real LLM serving traces against any OpenAI-compatible endpoint")
{
    ReplayCommand.Create(),
    SimulateCommand.Create(),
    CompareCommand.Create(),
    PowerCommand.Create(),
    DisaggregationCommand.Create(),
    AutoscaleCommand.Create(),
    KvCacheCommand.Create(),
};
try
{
    return await root.Parse(args).InvokeAsync();
}
catch (Exception ex) when (ex is ArgumentException or FileNotFoundException or InvalidDataException or InvalidOperationException or NotSupportedException)
{
    await Console.Error.WriteLineAsync($"error: {ex.Message}");
    return 2;
}
