using ControlPlane.Server.Configuration;
using ControlPlane.Server.Hosting;

try
{
    // appsettings.json beside the binary: the embedded default, wherever the process is started from.
    var app = ControlPlaneHost.Build(args, contentRoot: AppContext.BaseDirectory);
    app.Lifetime.ApplicationStarted.Register(() =>
    {
        var url = app.Urls.FirstOrDefault() ?? "http://localhost:8080";
        Console.WriteLine($$"""

            ControlPlane is serving on {{url}}
              models:     curl {{url}}/v1/models
              streaming:  curl -N {{url}}/v1/chat/completions -H 'Content-Type: application/json' \
                            -d '{"model":"llama-3-8b-sim","stream":true,"max_tokens":32,"messages":[{"role":"user","content":"Hello"}]}'
              metrics:    curl {{url}}/metrics
            Press Ctrl+C to stop.
            """);
    });
    await app.RunAsync();
    return 0;
}
catch (ConfigurationException ex)
{
    await Console.Error.WriteLineAsync(ex.Message);
    return 2;
}
