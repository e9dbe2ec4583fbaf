using ControlPlane.Benchmarks;

// make bench: every benchmark, figures printed as Markdown for docs/benchmarks.md.
var which = args.FirstOrDefault() ?? "all";
Console.WriteLine($"# ControlPlane benchmarks ({Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version})");
Console.WriteLine();
if (which is "all" or "dispatch")
    DispatchBenchmark.Run();
if (which is "all" or "kv-stream")
    await KvStreamBenchmark.RunAsync();
if (which is "all" or "gateway")
{
    var rate = args.Length > 1 ? double.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1000;
    await GatewayBenchmark.RunAsync(rate: rate);
}
if (which is "all" or "large-prompt")
    await LargePromptBenchmark.RunAsync(bpeFolder: which == "large-prompt" && args.Length > 1 ? args[1] : null);
if (which is "all" or "soak")
{
    var minutes = which == "soak" && args.Length > 1 ? double.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 10;
    await SoakBenchmark.RunAsync(minutes);
}
