using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ControlPlane.Server.Tests.Hosting;

namespace ControlPlane.Server.Tests.Gateway;

/// <summary>
/// Input a hostile or broken client sends: invalid text, oversized bodies and fields, options the server does not
/// carry out, wrong routes. Each gets an OpenAI-shaped 4xx naming the field, quickly, and harms nothing else.
/// </summary>
[Collection(GatewayCollection.Name)]
public class HostileInputTests(GatewayFixture fixture)
{
    private const string Chat = "/v1/chat/completions";
    private const string Completions = "/v1/completions";
    private const string Hello = """[{"role":"user","content":"hi"}]""";

    /// <summary>Where <c>@@</c> stands in a body, and the field the error must name.</summary>
    public static TheoryData<string, string, string> BadTextFields => new()
    {
        { Chat, """{"model":"sim","messages":[{"role":"user","content":"a@@b"}]}""", "messages[0].content" },
        { Chat, """{"model":"sim","messages":[{"role":"user","content":[{"type":"text","text":"a@@"}]}]}""", "messages[0].content[0].text" },
        { Chat, """{"model":"sim","messages":[{"role":"user","content":[{"type":"te@@xt","text":"a"}]}]}""", "messages[0].content[0].type" },
        { Chat, """{"model":"sim","messages":[{"role":"us@@er","content":"a"}]}""", "messages[0].role" },
        { Chat, """{"model":"si@@m","messages":[{"role":"user","content":"a"}]}""", "model" },
        { Chat, $$"""{"model":"sim","messages":{{Hello}},"stop":"@@"}""", "stop" },
        { Chat, $$"""{"model":"sim","messages":{{Hello}},"stop":["x","@@"]}""", "stop" },
        { Chat, $$"""{"model":"sim","messages":{{Hello}},"service_tier":"fl@@ex"}""", "service_tier" },
        { Completions, """{"model":"sim","prompt":"hello @@ world"}""", "prompt" },
        { Completions, """{"model":"sim","prompt":["@@"]}""", "prompt" },
    };

    [Theory]
    [MemberData(nameof(BadTextFields))]
    public async Task Post_InvalidUtf8Bytes_Returns400NamingTheField(string path, string template, string param)
    {
        // Raw bytes that are not UTF-8: a lone continuation byte and a truncated three-byte sequence.
        var parts = template.Split("@@");
        var body = Encoding.UTF8.GetBytes(parts[0]).Concat(new byte[] { 0x80, 0xE2, 0x82 }).Concat(Encoding.UTF8.GetBytes(parts[1])).ToArray();
        var error = await PostBytesAsync(path, body);
        Assert.Equal(HttpStatusCode.BadRequest, error.Status);
        Assert.Equal(param, error.Param);
    }

    [Theory]
    [MemberData(nameof(BadTextFields))]
    public async Task Post_LoneSurrogateEscape_Returns400NamingTheField(string path, string template, string param)
    {
        var error = await ErrorBody.PostAsync(fixture.Host.Http, path, template.Replace("@@", "\\ud800", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.BadRequest, error.Status);
        Assert.Equal(param, error.Param);
        Assert.Equal("invalid_encoding", error.Code);
    }

    public static TheoryData<string, string, string, string> BadShapes => new()
    {
        // path, body, param, text the message must contain
        { Chat, """{"model":"sim","messages":[{"role":"user","content":[{"type":5,"text":"a"}]}]}""", "messages[0].content[0].type", "must be a string" },
        { Chat, """{"model":"sim","messages":[{"role":"user","content":[{"type":"image_url","image_url":{}}]}]}""", "messages[0].content[0].type", "image_url" },
        { Chat, """{"model":"sim","messages":[{"role":"user","content":[7]}]}""", "messages[0].content[0]", "must be an object" },
        { Chat, """{"model":"sim","messages":[{"role":"user"}]}""", "messages[0].content", "required" },
        { Chat, """{"model":"sim","messages":[{"role":"user","content":null}]}""", "messages[0].content", "required" },
        { Chat, """{"model":"sim","messages":[{"role":"system","content":"be brief"},{"role":"user"}]}""", "messages[1].content", "required" },
        { Chat, """{"model":"sim","messages":[{"role":7,"content":"a"}]}""", "messages[0].role", "must be a string" },
        { Chat, $$$"""{"model":"sim","messages":{{{Hello}}},"logit_bias":{"50256":-100}}""", "logit_bias", "not supported" },
        { Chat, $$$"""{"model":"sim","messages":{{{Hello}}},"response_format":{"type":"json_object"}}""", "response_format", "not supported" },
        { Chat, $$"""{"model":"sim","messages":{{Hello}},"tool_choice":"auto"}""", "tool_choice", "not supported" },
        { Chat, $$"""{"model":"sim","messages":{{Hello}},"functions":[{"name":"f"}]}""", "functions", "not supported" },
        { Chat, $$"""{"model":"sim","messages":{{Hello}},"function_call":"auto"}""", "function_call", "not supported" },
        { Chat, $$"""{"model":"sim","messages":{{Hello}},"top_logprobs":3}""", "top_logprobs", "not supported" },
        { Chat, $$"""{"model":"sim","messages":{{Hello}},"modalities":["text","audio"]}""", "modalities", "text" },
        { Completions, """{"model":"sim","prompt":"def f(","suffix":"return 1"}""", "suffix", "not supported" },
    };

    [Theory]
    [MemberData(nameof(BadShapes))]
    public async Task Post_BadShapeOrUnsupportedOption_Returns400NamingTheField(string path, string body, string param, string messagePart)
    {
        var error = await ErrorBody.PostAsync(fixture.Host.Http, path, body);
        Assert.Equal(HttpStatusCode.BadRequest, error.Status);
        Assert.Equal(param, error.Param);
        Assert.Contains(messagePart, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"model":"sim","messages":[{"role":"assistant","content":null},{"role":"user","content":"go on"}],"max_tokens":3}""")]
    [InlineData("""{"model":"sim","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"text"},"tool_choice":"none","logit_bias":{},"max_tokens":3}""")]
    public async Task Post_NoOpValuesOfUnsupportedOptions_AreServed(string body)
    {
        var response = await fixture.Host.Http.PostAsync(new Uri(Chat, UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Post_BodyOverTheLimit_Returns413AtOnce()
    {
        // As curl sends a large body: Expect: 100-continue, so the answer comes before the body is sent.
        var body = JsonSerializer.Serialize(new { model = "sim", prompt = new string('a', 5 * 1024 * 1024) });
        using var request = new HttpRequestMessage(HttpMethod.Post, Completions) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.ExpectContinue = true;
        var response = await fixture.Host.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("request_too_large", json.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains("4194304 bytes", json.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Post_ChunkedBodyOverTheLimit_Returns413()
    {
        // No Content-Length: the limit is met while reading.
        var bytes = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new { model = "sim", prompt = new string('b', 5 * 1024 * 1024) }));
        using var content = new StreamContent(new MemoryStream(bytes));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, Completions) { Content = content };
        request.Headers.TransferEncodingChunked = true;
        var response = await fixture.Host.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("request_too_large", json.RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task Post_PromptOverTheCharacterLimit_Returns400BeforeTokenizing()
    {
        // Under the body limit, over the prompt's 1,000,000 characters (spread over two messages).
        var half = new string('c', 600_000);
        var body = JsonSerializer.Serialize(new { model = "sim", messages = new[] { new { role = "user", content = half }, new { role = "user", content = half } } });
        var error = await ErrorBody.PostAsync(fixture.Host.Http, Chat, body);
        Assert.Equal(HttpStatusCode.BadRequest, error.Status);
        Assert.Equal("messages[1].content", error.Param);
        Assert.Equal("string_above_max_length", error.Code);
    }

    [Fact]
    public async Task Post_HugeModelName_IsRefusedAndNotEchoedWhole()
    {
        var longName = new string('m', 900);
        var notFound = await ErrorBody.PostAsync(fixture.Host.Http, Chat, $$"""{"model":"{{longName}}","messages":{{Hello}}}""");
        Assert.Equal(HttpStatusCode.NotFound, notFound.Status);
        Assert.True(notFound.Message.Length < 200, notFound.Message);

        var tooLong = await ErrorBody.PostAsync(fixture.Host.Http, Chat, $$"""{"model":"{{new string('m', 100_000)}}","messages":{{Hello}}}""");
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.Status);
        Assert.Equal("model", tooLong.Param);
        Assert.True(tooLong.Message.Length < 200, tooLong.Message);
    }

    [Theory]
    [InlineData("GET", "/v1/no-such-thing", HttpStatusCode.NotFound, "unknown_url")]
    [InlineData("POST", "/v1/embeddings", HttpStatusCode.NotFound, "unknown_url")]
    [InlineData("GET", Chat, HttpStatusCode.MethodNotAllowed, "method_not_allowed")]
    [InlineData("DELETE", "/v1/models", HttpStatusCode.MethodNotAllowed, "method_not_allowed")]
    public async Task AnyRoute_WithNoAnswerOfItsOwn_GetsAnOpenAiShapedError(string method, string path, HttpStatusCode status, string code)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        var response = await fixture.Host.Http.SendAsync(request);
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(code, json.RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task HostileInputBesideGoodRequests_GoodOnesSucceedAndNothingLeaks()
    {
        var good = Enumerable.Range(0, 6).Select(i => fixture.Host.Http.PostAsync(new Uri(Chat, UriKind.Relative),
            new StringContent($$"""{"model":"sim","max_tokens":20,"messages":[{"role":"user","content":"request {{i}}"}]}""", Encoding.UTF8, "application/json"))).ToArray();
        var bad = BadShapes.Select(row => ErrorBody.PostAsync(fixture.Host.Http, (string)row[0], (string)row[1]))
            .Concat(BadTextFields.Select(row => ErrorBody.PostAsync(fixture.Host.Http, (string)row[0], ((string)row[1]).Replace("@@", "\\udc00", StringComparison.Ordinal))))
            .ToArray();
        await Task.WhenAll(bad);
        foreach (var response in await Task.WhenAll(good))
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await fixture.Host.WaitIdleAsync();
    }

    private async Task<ErrorBody> PostBytesAsync(string path, byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var response = await fixture.Host.Http.PostAsync(new Uri(path, UriKind.Relative), content);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
        return new ErrorBody(response.StatusCode, error.GetProperty("message").GetString()!, error.GetProperty("type").GetString()!,
            error.GetProperty("param").GetString(), error.GetProperty("code").GetString(), response);
    }
}
