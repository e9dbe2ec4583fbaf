using System.Net;
using System.Text;
using System.Text.Json;

namespace ControlPlane.Server.Tests.Gateway;

/// <summary>An OpenAI error as the gateway answered it.</summary>
internal sealed record ErrorBody(HttpStatusCode Status, string Message, string Type, string? Param, string? Code, HttpResponseMessage Response)
{
    public static async Task<ErrorBody> PostAsync(HttpClient http, string path, string body)
    {
        var response = await http.PostAsync(new Uri(path, UriKind.Relative), new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.False(response.IsSuccessStatusCode, $"expected an error for {body}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
        return new ErrorBody(response.StatusCode, error.GetProperty("message").GetString()!, error.GetProperty("type").GetString()!,
            error.GetProperty("param").GetString(), error.GetProperty("code").GetString(), response);
    }
}
