using ControlPlane.Models.Chat;

namespace ControlPlane.Server.Tests.Models;

public sealed class ChatTemplatesTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("chat-templates-").FullName;

    [Fact]
    public void Detect_Llama3Template_IsLlama3()
    {
        Write("""{"chat_template": "{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] }}<|eot_id|>{% endfor %}"}""");
        Assert.Equal(ChatTemplates.Llama3, ChatTemplates.Detect(_folder));
    }

    [Fact]
    public void Detect_NamedDefaultChatMlTemplate_IsChatMl()
    {
        Write("""{"chat_template": [{"name": "tool_use", "template": "<|start_header_id|>"}, {"name": "default", "template": "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"}]}""");
        Assert.Equal(ChatTemplates.ChatMl, ChatTemplates.Detect(_folder));
    }

    [Fact]
    public void Detect_NoTokenizerConfigOrNoTemplate_IsChatMl()
    {
        Assert.Equal(ChatTemplates.ChatMl, ChatTemplates.Detect(_folder));
        Write("""{"eos_token": "</s>"}""");
        Assert.Equal(ChatTemplates.ChatMl, ChatTemplates.Detect(_folder));
    }

    [Fact]
    public void Detect_OtherForm_NamesTheSettingToUse()
    {
        Write("""{"chat_template": "{{ bos_token }}{% for m in messages %}[INST] {{ m['content'] }} [/INST]{% endfor %}"}""");
        var error = Assert.Throws<InvalidDataException>(() => ChatTemplates.Detect(_folder));
        Assert.Contains("Models:N:ChatTemplate", error.Message, StringComparison.Ordinal);
        Assert.Contains("tokenizer_config.json", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_Llama3_EndsWhereTheAssistantSpeaks()
    {
        var prompt = ChatTemplates.Render(ChatTemplates.Llama3, [new ChatMessage("user", "Hi ")]);
        Assert.Equal("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", prompt);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private void Write(string json) => File.WriteAllText(Path.Combine(_folder, "tokenizer_config.json"), json);
}
