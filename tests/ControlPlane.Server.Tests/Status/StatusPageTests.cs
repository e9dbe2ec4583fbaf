using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ControlPlane.Testing;

namespace ControlPlane.Server.Tests.Status;

/// <summary>
/// The status page as a browser renders it: headless Chromium (Debian's <c>chromium</c>) opens <c>/status</c> of the
/// running embedded default while a load runs, sees every instance, and sees the page change as requests finish; a
/// screenshot is kept in <c>artifacts/status-page.png</c>.
/// </summary>
public sealed partial class StatusPageTests : IAsyncLifetime
{
    private static readonly string[] Browsers = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];
    private GatewayHost _host = null!;

    public async Task InitializeAsync() => _host = await GatewayHost.StartAsync();

    public async Task DisposeAsync() => await _host.DisposeAsync();

    [Fact]
    public async Task Chromium_ShowsEveryInstance_AndTheFiguresMoveWhileALoadRuns()
    {
        using var stop = new CancellationTokenSource();
        var load = Task.WhenAll(Enumerable.Range(0, 6).Select(_ => LoadAsync(stop.Token)));
        try
        {
            var first = await DomAsync();
            await Task.Delay(TimeSpan.FromSeconds(3));
            var second = await DomAsync();

            using var json = JsonDocument.Parse(await _host.Http.GetStringAsync(new Uri("/status.json", UriKind.Relative)));
            var instances = json.RootElement.GetProperty("models").EnumerateArray().Single(m => m.GetProperty("name").GetString() == GatewayHost.Model)
                .GetProperty("instances").EnumerateArray().Select(i => i.GetProperty("id").GetString()!).ToArray();
            Assert.Equal(4, instances.Length);
            foreach (var id in instances)
                Assert.Contains($"<td>{id}</td>", first, StringComparison.Ordinal);
            Assert.Contains("instances ready", first, StringComparison.Ordinal);
            var before = Finished(first);
            var after = Finished(second);
            Assert.True(after > before, $"the page showed {before} finished requests, then {after} three seconds later while a load ran");

            var screenshot = Path.Combine(Artifacts(), "status-page.png");
            await ChromiumAsync($"--screenshot={screenshot} --window-size=1280,900");
            Assert.True(new FileInfo(screenshot).Length > 10_000, "the screenshot is empty");
        }
        finally
        {
            await stop.CancelAsync();
            await load;
        }
    }

    [Fact]
    public async Task Json_NamesEveryInstance_AndTheObjectives()
    {
        using var json = JsonDocument.Parse(await _host.Http.GetStringAsync(new Uri("/status.json", UriKind.Relative)));
        var model = json.RootElement.GetProperty("models").EnumerateArray().Single(m => m.GetProperty("name").GetString() == GatewayHost.Model);
        Assert.Equal(4, model.GetProperty("instances").GetArrayLength());
        Assert.Equal(1000, model.GetProperty("slo").GetProperty("ttft_ms").GetDouble());
        Assert.Equal(JsonValueKind.Null, model.GetProperty("recent").GetProperty("slo_attainment").ValueKind); // nothing finished yet
    }

    /// <summary>The "finished (5 min)" figure on a rendered page.</summary>
    private static int Finished(string dom)
    {
        var match = FinishedPattern().Match(dom);
        Assert.True(match.Success, "the page shows no count of finished requests");
        return int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"<b>(\d+)</b>finished \(5 min\)")]
    private static partial Regex FinishedPattern();

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        var body = $$"""{"model":"{{GatewayHost.Model}}","prompt":"status page load","max_tokens":40}""";
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                using var content = new StringContent(body, Encoding.UTF8, "application/json");
                using var response = await _host.Http.PostAsync(new Uri("/v1/completions", UriKind.Relative), content, cancellationToken);
                response.EnsureSuccessStatusCode();
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private Task<string> DomAsync() => ChromiumAsync("--dump-dom");

    /// <summary>Runs headless Chromium on the status page; returns what it prints.</summary>
    private async Task<string> ChromiumAsync(string arguments)
    {
        var executable = Browsers.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("headless Chromium is needed for this test: apt-get install chromium (.ci/run installs it)");
        var profile = Directory.CreateTempSubdirectory("controlplane-chromium-").FullName;
        using var process = Process.Start(new ProcessStartInfo(executable,
            $"--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --user-data-dir={profile} {arguments} {new Uri(_host.BaseAddress, "/status")}")
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        })!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"chromium exited {process.ExitCode}: {await error}");
        try
        {
            Directory.Delete(profile, recursive: true);
        }
        catch (IOException)
        {
        }
        return await output;
    }

    /// <summary>The repository's <c>artifacts/</c> folder (found from the test's output folder).</summary>
    private static string Artifacts()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ControlPlane.sln")))
            dir = dir.Parent;
        var path = Path.Combine(dir?.FullName ?? Path.GetTempPath(), "artifacts");
        Directory.CreateDirectory(path);
        return path;
    }
}
