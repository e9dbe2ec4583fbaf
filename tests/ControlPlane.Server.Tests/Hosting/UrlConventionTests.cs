using System.Globalization;
using ControlPlane.Server.Hosting;
using ControlPlane.Testing;
using Microsoft.AspNetCore.Builder;

namespace ControlPlane.Server.Tests.Hosting;

/// <summary>The host listens where ASP.NET Core's conventions say (ASPNETCORE_URLS, --urls), the shipped settings notwithstanding.</summary>
public class UrlConventionTests
{
    /// <summary>A content root holding the server's shipped appsettings.json, as `make run` reads it.</summary>
    private static string ShippedRoot()
    {
        var root = Directory.CreateTempSubdirectory("controlplane-urls-").FullName;
        var shipped = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "src", "ControlPlane.Server", "appsettings.json");
        var settings = File.ReadAllText(shipped)
            .Replace("\"Mode\": \"Embedded\"", $"\"Mode\": \"Embedded\", \"SiloPort\": {FreePort.Next()}, \"GatewayPort\": 0", StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(root, "appsettings.json"), settings);
        return root;
    }

    [Fact]
    public async Task CommandLineUrls_AreWhereTheHostListens()
    {
        var port = FreePort.Next();
        await using var app = ControlPlaneHost.Build(["--urls", $"http://127.0.0.1:{port}"], contentRoot: ShippedRoot());
        await app.StartAsync();
        using var http = new HttpClient();
        var response = await http.GetAsync(new Uri($"http://127.0.0.1:{port}/healthz"));
        Assert.True(response.IsSuccessStatusCode);
        await app.StopAsync();
    }

    [Fact]
    public async Task AspNetCoreUrlsVariable_IsWhereTheHostListens()
    {
        var port = FreePort.Next();
        var before = Environment.GetEnvironmentVariable("ASPNETCORE_URLS");
        Environment.SetEnvironmentVariable("ASPNETCORE_URLS", string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}"));
        WebApplication app;
        try
        {
            app = ControlPlaneHost.Build([], contentRoot: ShippedRoot());
        }
        finally
        {
            Environment.SetEnvironmentVariable("ASPNETCORE_URLS", before);
        }
        await using (app)
        {
            await app.StartAsync();
            Assert.Equal($"http://127.0.0.1:{port}", Assert.Single(app.Urls));
            using var http = new HttpClient();
            Assert.True((await http.GetAsync(new Uri($"http://127.0.0.1:{port}/healthz"))).IsSuccessStatusCode);
            await app.StopAsync();
        }
    }
}
