using System.Text;
using ControlPlane.Models.Folders;

namespace ControlPlane.Models.Chat;

/// <summary>Renders chat messages into a prompt in the model's own format, ending where the assistant speaks.</summary>
public static class ChatTemplates
{
    public const string Auto = "auto";
    public const string ChatMl = "chatml";
    public const string Llama3 = "llama3";
    public static readonly string[] Known = [Auto, ChatMl, Llama3];

    /// <summary>
    /// The form a model folder's <c>tokenizer_config.json</c> <c>chat_template</c> is written in: Llama-3 (header
    /// tokens) or ChatML (<c>&lt;|im_start|&gt;</c>); ChatML when the folder has no template. A template of
    /// another form is an error naming the setting that overrides it.
    /// </summary>
    public static string Detect(TokenizerConfig config)
    {
        var template = config.ChatTemplate;
        if (template is null)
            return ChatMl;
        if (template.Contains("<|start_header_id|>", StringComparison.Ordinal))
            return Llama3;
        if (template.Contains("<|im_start|>", StringComparison.Ordinal))
            return ChatMl;
        throw new InvalidDataException($"{config.Path}: the chat_template is neither the Llama-3 nor the ChatML form; set Models:N:ChatTemplate to '{ChatMl}' or '{Llama3}'");
    }

    public static string Detect(string folder) => Detect(TokenizerConfig.Read(folder));

    public static string Render(string template, IReadOnlyList<ChatMessage> messages)
    {
        var prompt = new StringBuilder();
        switch (template)
        {
            case ChatMl:
                foreach (var m in messages)
                    prompt.Append("<|im_start|>").Append(m.Role).Append('\n').Append(m.Content).Append("<|im_end|>\n");
                prompt.Append("<|im_start|>assistant\n");
                break;
            case Llama3:
                prompt.Append("<|begin_of_text|>");
                foreach (var m in messages)
                    prompt.Append("<|start_header_id|>").Append(m.Role).Append("<|end_header_id|>\n\n").Append(m.Content.Trim()).Append("<|eot_id|>");
                prompt.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
                break;
            default:
                throw new ArgumentException($"unknown chat template '{template}'", nameof(template));
        }
        return prompt.ToString();
    }
}
