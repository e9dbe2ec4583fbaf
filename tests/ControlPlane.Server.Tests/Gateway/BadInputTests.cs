using System.Net;
using System.Text;
using System.Text.Json;
using ControlPlane.Server.Tests.Hosting;

namespace ControlPlane.Server.Tests.Gateway;

[Collection(GatewayCollection.Name)]
public class BadInputTests(GatewayFixture fixture)
{
    private const string Chat = "/v1/chat/completions";
    private const string Completions = "/v1/completions";
    private const string Hello = """[{"role":"user","content":"hi"}]""";

    public static TheoryData<string, string, string?, string> BadRequests => new()
    {
        // path, body, expected param, text the message must contain
        { Chat, """{"model":"sim","messages":""", null, "could not parse the JSON" },
        { Chat, "", null, "could not parse the JSON" },
        { Chat, "[1,2]", null, "must be a JSON object" },
        { Chat, $$"""{"messages":{{Hello}}}""", "model", "'model'" },
        { Chat, """{"model":"sim"}""", "messages", "'messages'" },
        { Chat, """{"model":"sim","messages":[]}""", "messages", "non-empty array" },
        { Chat, """{"model":"sim","messages":[{"content":"x"}]}""", "messages[0].role", "role" },
        { Chat, """{"model":"sim","messages":[{"role":"wizard","content":"x"}]}""", "messages[0].role", "wizard" },
        { Chat, $$"""{"model":"sim","messages":{{Hello}},"temperature":3}""", "temperature", "at most 2" },
        { Chat, $$"""{"model":"sim","messages":{{Hello}},"top_p":0}""", "top_p", "greater than 0" },
        { Chat, $$"""{"model":"sim","messages":{{Hello}},"max_tokens":0}""", "max_tokens", "between 1" },
        { Chat, $$"""{"model":"sim","messages":{{Hello}},"max_tokens":"ten"}""", "max_tokens", "integer" },
        { Chat, $$"""{"model":"sim","messages":{{Hello}},"max_completion_tokens":-5}""", "max_completion_tokens", "between 1" },
        { Chat, $$"""{"model":"sim","messages":{{Hello}},"n":2}""", "n", "n > 1 is not supported" },
        { Chat, $$"""{"model":"sim","messages":{{Hello}},"stop":["a","b","c","d","e"]}""", "stop", "at most 4" },
        { Chat, $$"""{"model":"sim","messages":{{Hello}},"seed":"x"}""", "seed", "integer" },
        { Chat, $$"""{"model":"sim","messages":{{Hello}},"stream":"yes"}""", "stream", "boolean" },
        { Chat, $$$"""{"model":"sim","messages":{{{Hello}}},"stream_options":{"include_usage":true}}""", "stream_options", "only allowed when stream is true" },
        { Chat, $$"""{"model":"sim","messages":{{Hello}},"service_tier":"gold"}""", "service_tier", "gold" },
        { Chat, $$"""{"model":"sim","messages":{{Hello}},"logprobs":true}""", "logprobs", "not supported" },
        { Chat, $$"""{"model":"sim","messages":{{Hello}},"max_tokens":600}""", "max_tokens", "maximum context length is 512" },
        { Completions, """{"model":"sim"}""", "prompt", "'prompt'" },
        { Completions, """{"model":"sim","prompt":["a","b"]}""", "prompt", "one prompt per request" },
        { Completions, """{"model":"sim","prompt":[1,2,99999999]}""", "prompt", "outside the model's vocabulary" },
        { Completions, """{"model":"sim","prompt":"hi","echo":true}""", "echo", "not supported" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Post_BadInput_Returns400NamingTheField(string path, string body, string? param, string messagePart)
    {
        var error = await ErrorBody.PostAsync(fixture.Host.Http, path, body);
        Assert.Equal(HttpStatusCode.BadRequest, error.Status);
        Assert.Equal("invalid_request_error", error.Type);
        Assert.Equal(param, error.Param);
        Assert.Contains(messagePart, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_UnknownModel_Returns404ModelNotFound()
    {
        var error = await ErrorBody.PostAsync(fixture.Host.Http, Chat, $$"""{"model":"gpt-9","messages":{{Hello}}}""");
        Assert.Equal(HttpStatusCode.NotFound, error.Status);
        Assert.Equal("model", error.Param);
        Assert.Equal("model_not_found", error.Code);
        Assert.Contains("gpt-9", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_PromptLongerThanContext_Returns400ContextLengthExceeded()
    {
        var prompt = string.Join(' ', Enumerable.Repeat("word", 600));
        var error = await ErrorBody.PostAsync(fixture.Host.Http, Completions, JsonSerializer.Serialize(new { model = "sim", prompt }));
        Assert.Equal(HttpStatusCode.BadRequest, error.Status);
        Assert.Equal("prompt", error.Param);
        Assert.Equal("context_length_exceeded", error.Code);
        Assert.Contains("maximum context length is 512 tokens", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_ManyBadRequestsBesideGoodOnes_GoodOnesSucceedAndNothingLeaks()
    {
        var good = Enumerable.Range(0, 8).Select(i => fixture.Host.Http.PostAsync(new Uri(Chat, UriKind.Relative),
            new StringContent($$"""{"model":"sim","max_tokens":20,"messages":[{"role":"user","content":"request {{i}}"}]}""", Encoding.UTF8, "application/json"))).ToArray();
        var bad = BadRequests.Select(row => ErrorBody.PostAsync(fixture.Host.Http, (string)row[0], (string)row[1])).ToArray();
        await Task.WhenAll(bad);
        foreach (var response in await Task.WhenAll(good))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.Equal(20, json.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        }
        await fixture.Host.WaitIdleAsync();
    }
}
