using System.CommandLine;
using System.Globalization;
using ControlPlane.LoadGen.Prompts;
using ControlPlane.LoadGen.Replay;
using ControlPlane.LoadGen.Reports;
using ControlPlane.LoadGen.Traces;
using ControlPlane.Simulation.Tokenization;
using ControlPlane.Tokenization;
using Spectre.Console;

namespace ControlPlane.LoadGen;

/// <summary>The <c>replay</c> command: read or make a trace, shape it, replay it open-loop, report.</summary>
public static class ReplayCommand
{
    public static Command Create()
    {
        var trace = new Option<string?>("--trace") { Description = "Trace file (Azure CSV, BurstGPT CSV, Mooncake JSONL)" };
        var format = new Option<TraceFormat?>("--format") { Description = "Trace format; guessed from the file name when left out" };
        var synthetic = new Option<string?>("--synthetic") { Description = "Instead of a file: 'poisson' or 'gamma' arrivals" };
        var count = new Option<int>("--count") { Description = "Synthetic: how many requests", DefaultValueFactory = _ => 1000 };
        var shape = new Option<double>("--gamma-shape") { Description = "Synthetic gamma: shape (CV = 1/sqrt(shape))", DefaultValueFactory = _ => 0.5 };
        var inputTokens = new Option<string>("--input-tokens") { Description = "Synthetic: prompt length, N or MIN-MAX", DefaultValueFactory = _ => "512" };
        var outputTokens = new Option<string>("--output-tokens") { Description = "Synthetic: answer length, N or MIN-MAX", DefaultValueFactory = _ => "128" };
        var endpoint = new Option<string>("--endpoint") { Description = "Base address of the OpenAI-compatible server", DefaultValueFactory = _ => "http://localhost:8080/" };
        var model = new Option<string>("--model") { Description = "Model name to send", DefaultValueFactory = _ => "llama-3-8b-sim" };
        var api = new Option<string>("--api") { Description = "completions (exact prompt lengths) or chat", DefaultValueFactory = _ => "completions" };
        var apiKey = new Option<string?>("--api-key") { Description = "Bearer token, if the server wants one" };
        var speedup = new Option<double>("--speedup") { Description = "Divide the trace's arrival times by this", DefaultValueFactory = _ => 1 };
        var rate = new Option<double?>("--rate") { Description = "Override arrivals: Poisson at this many requests/s" };
        var maxRequests = new Option<int?>("--max-requests") { Description = "Send at most this many requests" };
        var duration = new Option<double?>("--duration") { Description = "Send requests arriving within this many seconds" };
        var sloTtft = new Option<double?>("--slo-ttft-ms") { Description = "Time-to-first-token SLO for goodput" };
        var sloTpot = new Option<double?>("--slo-tpot-ms") { Description = "Time-per-output-token SLO for goodput" };
        var output = new Option<string>("--out") { Description = "Directory for report.json, report.md, requests.jsonl and plots", DefaultValueFactory = _ => "replay-out" };
        var seed = new Option<int>("--seed") { Description = "Seed for synthetic arrivals and prompt text", DefaultValueFactory = _ => 1 };
        var tokenizer = new Option<string>("--tokenizer")
        {
            Description = "Count prompt lengths in this model's tokens: 'simulated' (our simulated models) or a Hugging Face model folder with tokenizer.json",
            DefaultValueFactory = _ => "simulated",
        };

        var classes = new Option<string?>("--priority-classes")
        {
            Description = "Send each request one of the model's priority classes (priority_class), drawn by weight: NAME=WEIGHT,NAME=WEIGHT; the report breaks latency and SLO attainment down by class",
        };

        var command = new Command("replay", "Replay a trace against an OpenAI-compatible endpoint and report latency, throughput and goodput")
        {
            trace, format, synthetic, count, shape, inputTokens, outputTokens, endpoint, model, api, apiKey,
            speedup, rate, maxRequests, duration, sloTtft, sloTpot, output, seed, tokenizer, classes,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            IReadOnlyList<TraceRequest> requests;
            string name;
            if (parse.GetValue(synthetic) is { } kind)
            {
                var input = LengthSpec.Parse(parse.GetValue(inputTokens)!, "--input-tokens");
                var outputLength = LengthSpec.Parse(parse.GetValue(outputTokens)!, "--output-tokens");
                var r = parse.GetValue(rate) ?? 1;
                requests = kind switch
                {
                    "poisson" => SyntheticTrace.Poisson(r, parse.GetValue(count), input, outputLength, parse.GetValue(seed)),
                    "gamma" => SyntheticTrace.Gamma(r, parse.GetValue(shape), parse.GetValue(count), input, outputLength, parse.GetValue(seed)),
                    _ => throw new ArgumentException($"--synthetic '{kind}' is not poisson or gamma"),
                };
                name = $"synthetic {kind} at {r.ToString(CultureInfo.InvariantCulture)} requests/s";
            }
            else
            {
                var path = parse.GetValue(trace) ?? throw new ArgumentException("give --trace FILE or --synthetic poisson|gamma");
                requests = TraceFiles.Read(path, parse.GetValue(format));
                name = Path.GetFileName(path);
            }
            var shaping = new TraceShaping
            {
                Speedup = parse.GetValue(speedup),
                Rate = parse.GetValue(synthetic) is null ? parse.GetValue(rate) : null,
                MaxRequests = parse.GetValue(maxRequests),
                Duration = parse.GetValue(duration) is { } d ? TimeSpan.FromSeconds(d) : null,
                Seed = parse.GetValue(seed),
            };
            var options = new ReplayOptions
            {
                Endpoint = Uri.TryCreate(parse.GetValue(endpoint), UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
                    ? new Uri(uri.AbsoluteUri.TrimEnd('/') + "/")
                    : throw new ArgumentException($"--endpoint '{parse.GetValue(endpoint)}' is not an http(s) address"),
                Model = parse.GetValue(model)!,
                Api = parse.GetValue(api)!,
                ApiKey = parse.GetValue(apiKey),
                PriorityClasses = ReplayOptions.ParseClasses(parse.GetValue(classes)),
                ClassSeed = parse.GetValue(seed),
            };
            var slo = new Slo(parse.GetValue(sloTtft), parse.GetValue(sloTpot));
            return await RunAsync(name, shaping.Apply(requests), options, slo, parse.GetValue(output)!, cancellationToken, Tokenizer(parse.GetValue(tokenizer)!));
        });
        return command;
    }

    /// <summary>The tokenizer prompts are measured in: the simulated models', or a Hugging Face folder's.</summary>
    public static ITokenizer Tokenizer(string spec) => spec == "simulated"
        ? SimulatedTokenizer.Instance
        : HuggingFaceTokenizer.Load(spec, []);

    public static async Task<int> RunAsync(string name, IReadOnlyList<TraceRequest> trace, ReplayOptions options, Slo slo, string outputDirectory,
        CancellationToken cancellationToken, ITokenizer? tokenizer = null)
    {
        var prompts = new PromptBuilder(tokenizer ?? SimulatedTokenizer.Instance);
        var requests = trace.Select((r, i) => (r.ArrivalMs, r.InputTokens, r.OutputTokens, prompts.Build(r, i))).ToArray();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionLifetime = TimeSpan.FromMinutes(10) })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        var replayer = new OpenLoopReplayer(http, options);
        IReadOnlyList<RequestRecord> records;
        if (!Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive)
        {
            records = await AnsiConsole.Progress().StartAsync(async context =>
            {
                var sent = context.AddTask("sent", maxValue: requests.Length);
                var done = context.AddTask("finished", maxValue: requests.Length);
                return await replayer.RunAsync(requests, new Progress<ReplayProgress>(p =>
                {
                    sent.Value = p.Sent;
                    done.Value = p.Finished;
                    done.Description = $"finished ({p.Failed} failed)";
                }), cancellationToken);
            });
        }
        else
        {
            var lastLine = -1.0;
            records = await replayer.RunAsync(requests, new Progress<ReplayProgress>(p =>
            {
                if (p.ElapsedSeconds - lastLine < 5 && p.Finished < p.Total)
                    return;
                lastLine = p.ElapsedSeconds;
                Console.WriteLine(FormattableString.Invariant($"[{p.ElapsedSeconds,6:0.0} s] sent {p.Sent}/{p.Total}, finished {p.Finished}, failed {p.Failed}"));
            }), cancellationToken);
        }
        var report = ReplayReport.From(name, options.Endpoint.ToString(), options.Model, records, slo);
        ReportWriter.Write(outputDirectory, report, records);
        ReportPlots.Write(outputDirectory, records);
        Console.WriteLine();
        Console.WriteLine(ReportWriter.Markdown(report));
        Console.WriteLine($"Report, per-request records and plots in {Path.GetFullPath(outputDirectory)}");
        return report.Failed == 0 ? 0 : 1;
    }
}
